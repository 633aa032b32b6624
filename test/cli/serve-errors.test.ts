// A user's mistake stops `pier serve` with one line that says what to do, never a stack trace
// (stacks are for bugs, and for --debug or PIER_LOG_LEVEL=debug); URLs are named without their
// password. And a start that fails leaves nothing open behind it: the process ends by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_TEST_URL, postgresProblem } from '../../src/metadata/postgres.testing.js';
import { runPier, type PierRun } from '../support/cli.js';
import { inCi } from '../support/exec.js';
import { redisProblem, redisTestUrl } from '../support/redis.js';
import { S3_TEST_URL, s3Problem } from '../support/s3.js';

const root = new URL('../..', import.meta.url).pathname;
const needs = (problem: string | undefined) => (problem && !inCi ? { skip: problem } : {});
const postgres = await postgresProblem();
const redis = await redisProblem();
const s3 = await s3Problem();

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The one line a failed start printed: exit 1, one line on stderr, no stack trace anywhere. */
function oneLine(run: PierRun): string {
  assert.equal(run.code, 1, `exit code: ${run.stdout}${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${run.stderr}`);
  assert.doesNotMatch(run.stdout + run.stderr, / {4}at /, 'no stack trace');
  assert.match(lines[0]!, /^pier: /);
  return lines[0]!.slice('pier: '.length);
}

describe('pier serve: mistakes in one line', () => {
  let parent: string;
  let busy: Server;
  let busyPort: number;
  const serve = (env: Record<string, string>, args: string[] = []) =>
    runPier(['serve', '--listen', '127.0.0.1:0', '--data', join(parent, `data-${randomBytes(3).toString('hex')}`), ...args], { env: { PIER_LOG_LEVEL: 'info', ...env } });

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'pier-serve-errors-'));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => busy.close(resolve));
    await rm(parent, { recursive: true, force: true });
  });

  it('names a secret file of the wrong size, or a missing one, and how to make one', async () => {
    const short = join(parent, 'short.key');
    await writeFile(short, 'too short\n');
    assert.equal(
      oneLine(await serve({ PIER_SECRET_KEY_FILE: short })),
      `auth.secretKeyFile (PIER_SECRET_KEY_FILE): the installation secret file ${short} must hold 32 bytes: raw, as 64 hex characters or in base64 (for example \`openssl rand -hex 32 >${short}\`); it holds 10 bytes of something else`,
    );
    const missing = join(parent, 'missing.key');
    assert.equal(
      oneLine(await serve({ PIER_SECRET_KEY_FILE: missing })),
      `auth.secretKeyFile (PIER_SECRET_KEY_FILE): the installation secret file ${missing} does not exist: create it with 32 random bytes (for example \`openssl rand -hex 32 >${missing}\`), the same file on every replica`,
    );
  });

  it('says when the port is in use, and what to do', async () => {
    const run = await runPier(['serve', '--listen', `127.0.0.1:${busyPort}`, '--data', join(parent, 'busy')], { env: { PIER_AUTH: 'open' } });
    assert.equal(
      oneLine(run),
      `cannot listen on 127.0.0.1:${busyPort}: the address is in use (another Pier, or another program, listens there): stop it, or choose another with --listen or PIER_LISTEN`,
    );
  });

  it('prints the stack of the same mistake with --debug, or PIER_LOG_LEVEL=debug', async () => {
    const short = join(parent, 'short.key');
    for (const run of [await serve({ PIER_SECRET_KEY_FILE: short }, ['--debug']), await serve({ PIER_SECRET_KEY_FILE: short, PIER_LOG_LEVEL: 'debug' })]) {
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^pier: auth\.secretKeyFile \(PIER_SECRET_KEY_FILE\): the installation secret file .* must hold 32 bytes/);
      assert.match(run.stderr, /InstallationSecretError: .*\n {4}at /);
    }
  });

  it('names PostgreSQL without its password when it does not answer, or has no such database', needs(postgres), async () => {
    const port = await closedPort();
    const refused = oneLine(await serve({ PIER_DATABASE_URL: `postgres://pier:hunter2@127.0.0.1:${port}/pier` }));
    assert.equal(refused, `PostgreSQL at pier@127.0.0.1:${port}/pier does not answer (ECONNREFUSED): start it, or fix database.url (PIER_DATABASE_URL)`);
    const url = new URL(POSTGRES_TEST_URL);
    const name = `pier_missing_${randomBytes(4).toString('hex')}`;
    url.pathname = `/${name}`;
    url.password = 'hunter2';
    const missing = oneLine(await serve({ PIER_DATABASE_URL: url.toString() }));
    assert.equal(missing, `PostgreSQL at ${url.username}@${url.host}/${name}: database "${name}" does not exist: create it (createdb), or fix database.url (PIER_DATABASE_URL)`);
    assert.doesNotMatch(refused + missing, /hunter2/);
  });

  it('names the S3 endpoint that does not answer, and a bucket that does not exist', needs(s3), async () => {
    const port = await closedPort();
    const unreachable = oneLine(await serve({ PIER_AUTH: 'open', PIER_STORAGE_URL: `s3://pier-blobs?endpoint=http://127.0.0.1:${port}&region=us-east-1&forcePathStyle=true` }));
    assert.match(unreachable, new RegExp(`^S3 bucket "pier-blobs" at http://127\\.0\\.0\\.1:${port} is unreachable: ECONNREFUSED.*\\(start it, or fix the endpoint of storage\\.url, PIER_STORAGE_URL\\)$`));
    const url = new URL(S3_TEST_URL);
    const bucket = `pier-missing-${randomBytes(4).toString('hex')}`;
    url.host = bucket;
    const missing = oneLine(await serve({ PIER_AUTH: 'open', PIER_STORAGE_URL: url.toString().replace(/^s3:\/\/[^?/]*/, `s3://${bucket}`) }));
    assert.equal(missing, `S3 bucket "${bucket}" at ${new URL(S3_TEST_URL).searchParams.get('endpoint')} does not exist (create it first)`);
  });

  it('starts without Redis, saying so in one log line that names it without its password', needs(redis), async () => {
    const port = await closedPort();
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve', '--listen', '127.0.0.1:0', '--data', join(parent, 'no-redis')], {
      cwd: root,
      env: { ...process.env, PIER_AUTH: 'open', PIER_LOG_LEVEL: 'info', PIER_REDIS_URL: `redis://:sw0rdfish@127.0.0.1:${port}/0` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening:\n${output}`)), 30_000);
        child.stdout.on('data', () => output.includes('pier is listening') && (clearTimeout(timer), resolve()));
        child.once('exit', () => reject(new Error(`exited:\n${output}`)));
      });
    } finally {
      child.kill('SIGTERM');
    }
    const lines = output.split('\n').filter((l) => l.includes('Redis is unavailable'));
    assert.equal(lines.length, 1, output);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.redis, `redis://:***@127.0.0.1:${port}/0`);
    assert.equal(entry.err, undefined, 'no stack');
    assert.doesNotMatch(output, /sw0rdfish| {4}at /);
    void redisTestUrl;
  });
});

describe('a failed start', () => {
  it('closes what it opened (database pool, timers, Redis): the process ends by itself', needs(postgres ?? redis), async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pier-failed-start-'));
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const script = join(parent, 'start.mts');
    const schema = `failed_start_${randomBytes(4).toString('hex')}`;
    const database = new URL(POSTGRES_TEST_URL);
    database.searchParams.set('schema', schema);
    await writeFile(
      script,
      `import { loadConfig } from ${JSON.stringify(join(root, 'src/server/config.ts'))};
       import { startServer } from ${JSON.stringify(join(root, 'src/server/server.ts'))};
       const config = loadConfig({ env: {}, overrides: {
         listen: '127.0.0.1:${port}', logLevel: 'silent', data: ${JSON.stringify(join(parent, 'data'))}, 'auth.mode': 'token', 'storage.fsync': false,
         'database.url': ${JSON.stringify(database.toString())}, 'redis.url': ${JSON.stringify(redisTestUrl())}, 'redis.prefix': 'pier-failed-start:',
       } });
       try {
         await startServer(config);
         console.log('started');
       } catch (error) {
         console.log('failed: ' + error.message);
       }
       // no process.exit: the process ends when nothing is left open`,
    );
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(-1);
        }, 20_000);
        child.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      assert.match(output, new RegExp(`failed: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`));
      assert.equal(code, 0, `the process should end by itself once the start failed:\n${output}`);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: POSTGRES_TEST_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
      await rm(parent, { recursive: true, force: true });
    }
  });
});
