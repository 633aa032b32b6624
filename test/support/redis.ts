import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * Redis for tests: the server of DEVELOPERS.md, or PIER_TEST_REDIS_URL. Each test file (or test)
 * takes a key prefix of its own and deletes it at the end. Without Redis the tests that need it
 * are skipped with the reason; under CI=true they run, and fail.
 */
export function redisTestUrl(): string {
  return process.env.PIER_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
}

/** A prefix no other test uses: `pier-test:<random>:`. */
export function redisTestPrefix(): string {
  return `pier-test:${randomBytes(6).toString('hex')}:`;
}

const inCi = process.env.CI === 'true' || process.env.CI === '1';

let reachable: Promise<string | undefined> | undefined;

/** undefined when Redis answers at redisTestUrl(), else why not. */
export function redisProblem(): Promise<string | undefined> {
  reachable ??= (async () => {
    const url = redisTestUrl();
    const client = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return undefined;
    } catch (error) {
      return `Redis is not reachable at ${redact(url)} (${(error as Error).message}); set PIER_TEST_REDIS_URL or start redis-server`;
    } finally {
      client.disconnect();
    }
  })();
  return reachable;
}

/** Options for `describe`: skip with the reason when Redis does not answer, unless in CI. */
export async function skipUnlessRedis(): Promise<{ skip?: string }> {
  const problem = await redisProblem();
  return problem && !inCi ? { skip: problem } : {};
}

/** Deletes every key that starts with `prefix` (SCAN + DEL): a test's cleanup. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete every key: the prefix is empty');
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  let deleted = 0;
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}

/** Every key under `prefix`, without it (for assertions). */
export async function redisKeys(url: string, prefix: string): Promise<string[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    const keys: string[] = [];
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      keys.push(...batch.map((k) => k.slice(prefix.length)));
    } while (cursor !== '0');
    return keys.sort();
  } finally {
    client.disconnect();
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILL: Redis disappears as in a crash */
  kill(): Promise<void>;
  /** starts it again on the same port (empty: it saves nothing) */
  start(): Promise<void>;
  /** SIGSTOP: connected but silent, as a hung Redis; its keys stay */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** kills it and removes its directory */
  stop(): Promise<void>;
}

/**
 * A redis-server of a test's own, on a free port of 127.0.0.1, to kill and restart while Pier
 * runs: empty after a restart (`--save '' --appendonly no`), or, `persistent`, with what it had
 * (an append-only file, fsynced at every write), as a production Redis restarted.
 */
export async function startPrivateRedis(options: { persistent?: boolean } = {}): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'pier-redis-'));
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  let child: ChildProcess | undefined;
  const start = async () => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer) => {
        output += data.toString();
        if (output.includes('Ready to accept connections')) {
          proc.stdout!.off('data', onData);
          proc.off('exit', onExit);
          proc.stdout!.resume();
          resolve();
        }
      };
      const onExit = (code: number | null) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
      proc.stdout!.on('data', onData);
      proc.stderr!.resume();
      proc.on('exit', onExit);
      proc.on('error', reject);
    });
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };
  const signal = (name: NodeJS.Signals) => {
    if (!child) throw new Error('redis-server is not running');
    child.kill(name);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** undefined when `redis-server` can be run, else why not. */
export async function redisServerProblem(): Promise<string | undefined> {
  const result = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return result.error ? `redis-server is not installed (${result.error.message}); apt-get install -y redis-server` : undefined;
}

/** Options for `describe`: skip unless both Redis and the redis-server binary are there, unless in CI. */
export async function skipUnlessRedisServer(): Promise<{ skip?: string }> {
  const problem = (await redisProblem()) ?? (await redisServerProblem());
  return problem && !inCi ? { skip: problem } : {};
}
