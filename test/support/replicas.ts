import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';

/**
 * Pier as real processes, for what in-process servers cannot show: several replicas over shared
 * backends, and a replica killed with SIGKILL. Each runs `src/cli/main.ts serve` through tsx on
 * 127.0.0.1:<port 0> and is found by its 'pier is listening' log line.
 */
export interface Replica {
  name: string;
  /** http://127.0.0.1:<port> */
  url: string;
  /** host:port, as docker names the registry */
  host: string;
  process: ChildProcess;
  /** everything the process printed so far (JSON log lines) */
  output(): string;
  /** SIGKILL: no drain, no cleanup, as a crash */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit */
  stop(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../..');

export async function startReplica(name: string, env: Record<string, string>, timeoutMs = 60_000): Promise<Replica> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PIER_LISTEN: '127.0.0.1:0', PIER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = once(child, 'exit');

  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => fail(new Error(`replica ${name} did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = () => {
      for (const line of output.split('\n')) {
        if (!line.includes('pier is listening')) continue;
        try {
          const parsed = JSON.parse(line) as { url?: string };
          if (parsed.url) return done(parsed.url);
        } catch {
          // a partial line: wait for the rest
        }
      }
    };
    const onExit = (code: number | null) => fail(new Error(`replica ${name} exited (${code}) before listening:\n${output}`));
    function done(value: string) {
      cleanup();
      resolveUrl(value);
    }
    function fail(error: Error) {
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    }
    function cleanup() {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout!.on('data', onData);
    child.on('exit', onExit);
  });

  const waitExit = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return {
    name,
    url,
    host: new URL(url).host,
    process: child,
    output: () => output,
    kill: () => waitExit('SIGKILL'),
    stop: () => waitExit('SIGTERM'),
  };
}

export interface SharedBackends {
  /** the environment every replica of the cluster gets */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * A directory for the replicas' private data and one installation secret they all read
 * (PIER_SECRET_KEY_FILE), plus whatever shared backends `env` names.
 */
export async function sharedInstallation(env: Record<string, string>): Promise<SharedBackends & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pier-replicas-'));
  const secretFile = join(dir, 'secret.key');
  await writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  return {
    dir,
    env: { PIER_SECRET_KEY_FILE: secretFile, ...env },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Starts `count` replicas over the same shared environment, each with its own data directory. */
export async function startReplicas(count: number, shared: { dir: string; env: Record<string, string> }, extra: Record<string, string> = {}): Promise<Replica[]> {
  const names = Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i));
  return Promise.all(names.map((name) => startReplica(name, { ...shared.env, PIER_DATA: join(shared.dir, `data-${name}`), ...extra })));
}
