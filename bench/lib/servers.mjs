// The servers under test: Pier (token mode with a user, or open) and the reference registry, each
// a child process on a free port with its own data directory; stopped at the end, also on error.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenClient } from './auth.mjs';
import { send } from './http.mjs';

export const cleanup = { servers: new Set(), dirs: new Set(), keep: false };

export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** PIER_* variables of the caller's shell do not leak into the run: only `env` configures Pier. */
function childEnv(env) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIER_')));
  return { ...inherited, ...env };
}

export class Server {
  /** `name`: the key of its samples (pierToken, pierOpen, reference); `label`: how the log calls it */
  constructor(name, label) {
    this.name = name;
    this.label = label;
    this.state = {};
    this.auth = undefined; // a TokenClient in token mode
  }

  async start(command, args, env, readyStatuses = [200]) {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const log = openSync(this.logFile, 'a');
    this.proc = spawn(command, args, { env: childEnv(env), stdio: ['ignore', log, log] });
    closeSync(log);
    this.pid = this.proc.pid;
    this.exited = false;
    this.proc.once('exit', (code, signal) => {
      this.exited = true;
      this.exit = { code, signal };
    });
    cleanup.servers.add(this);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.exited) throw new Error(`${this.label} exited during start (${JSON.stringify(this.exit)}):\n${this.logTail()}`);
      try {
        const res = await send(this, 'GET', '/v2/');
        if (readyStatuses.includes(res.status)) break;
      } catch {}
      if (Date.now() > deadline) throw new Error(`${this.label} did not answer GET /v2/ within 30 s:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  assertAlive() {
    if (this.exited) throw new Error(`${this.label} exited (${JSON.stringify(this.exit)}):\n${this.logTail()}`);
  }

  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop() {
    cleanup.servers.delete(this);
    if (!this.proc || this.exited) return;
    this.proc.kill('SIGTERM');
    const exited = once(this.proc, 'exit');
    const timeout = sleep(10_000).then(() => 'timeout');
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      this.proc.kill('SIGKILL');
      await exited;
    }
  }
}

const BENCH_USER = 'bench';

/**
 * Pier in `mode` 'token' (a user made with `pier user create`, on the team plan so that its quota
 * holds the run, logged in as docker does) or 'open' (anonymous, as the reference runs).
 * `scaleOut`: the PostgreSQL/S3/Redis environment of this Pier (each its own schema and prefixes).
 */
/**
 * The node flags of the `start` script in package.json (`node FLAGS dist/cli/main.js serve`): the
 * bench runs Pier as `npm start` runs it (a small young generation keeps its memory down).
 */
function startFlags(root) {
  const start = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts?.start ?? '';
  const match = /^node\s+(.*?)\s*dist\/cli\/main\.js\b/.exec(start);
  return match ? match[1].split(/\s+/).filter(Boolean) : [];
}

export async function startPier(opts, dir, mode, scaleOut) {
  const name = mode === 'token' ? 'pierToken' : 'pierOpen';
  const server = new Server(name, mode === 'token' ? 'Pier token' : 'Pier open');
  server.mode = mode;
  server.dataDir = path.join(dir, `${name}-data`);
  server.logFile = path.join(dir, `${name}.log`);
  const env = { PIER_DATA: server.dataDir, PIER_LOG_LEVEL: 'warn', PIER_AUTH: mode };
  if (mode === 'token' && opts.tokenTtl) env.PIER_TOKEN_TTL = opts.tokenTtl;
  if (opts.pierFsync !== '') env.PIER_STORAGE_FSYNC = opts.pierFsync;
  if (scaleOut) Object.assign(env, scaleOut.pierEnv);
  server.port = await freePort();
  env.PIER_LISTEN = `127.0.0.1:${server.port}`;
  const main = path.join(opts.pierRoot, 'dist/cli/main.js');
  await server.start(process.execPath, [...startFlags(opts.pierRoot), ...opts.pierNodeOptions, main, 'serve'], env, mode === 'token' ? [401] : [200]);
  if (mode === 'token') {
    const password = `bench-${Math.random().toString(36).slice(2)}-secret`;
    const cli = (args, input) => {
      const r = spawnSync(process.execPath, [main, ...args], { env: childEnv(env), input, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pier ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    };
    cli(['user', 'create', BENCH_USER, '--password-stdin'], password);
    cli(['plan', 'set', BENCH_USER, 'team']); // the free plan's 2 GB quota would not hold the run
    server.auth = new TokenClient(server, BENCH_USER, password);
    await server.auth.login();
  }
  return server;
}

export async function startReference(opts, dir, scaleOut) {
  const server = new Server('reference', 'reference');
  server.dataDir = path.join(dir, 'reference-data');
  server.logFile = path.join(dir, 'reference.log');
  server.port = await freePort();
  const config = path.join(dir, 'reference.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      ...(scaleOut ? scaleOut.referenceCache : opts.referenceCache === 'inmemory' ? ['  cache:', '    blobdescriptor: inmemory'] : []),
      ...(scaleOut ? scaleOut.referenceStorage : ['  filesystem:', `    rootdirectory: ${server.dataDir}`]),
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      ...(scaleOut ? scaleOut.referenceRedis : []),
      'http:',
      `  addr: 127.0.0.1:${server.port}`,
      '',
    ].join('\n'),
  );
  // the Go SDK of the reference refuses AWS_CA_BUNDLE with its own transport (set on some machines)
  await server.start(opts.reference, ['serve', config], scaleOut ? { AWS_CA_BUNDLE: '' } : {});
  return server;
}

export function stopEverythingNow() {
  for (const server of cleanup.servers) {
    try {
      server.proc.kill('SIGKILL');
    } catch {}
  }
  cleanup.servers.clear();
  if (!cleanup.keep) for (const dir of cleanup.dirs) rmSync(dir, { recursive: true, force: true });
}
