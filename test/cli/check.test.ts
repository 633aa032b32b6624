import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { MIGRATIONS } from '../../src/metadata/migrations/index.js';
import { POSTGRES_TEST_URL, freshSchemaName, postgresProblem } from '../../src/metadata/postgres.testing.js';
import { runPier, withData, type PierRun } from '../support/cli.js';
import { inCi } from '../support/exec.js';
import { redisProblem, redisTestUrl } from '../support/redis.js';
import { createTestCa, opensslAvailable, type TestCa } from '../support/tls.js';

/** The line `pier check` printed for one check: [status, detail]. */
function line(run: PierRun, name: string): [string, string] {
  const found = run.stdout.split('\n').find((l) => l.slice(5).startsWith(`${name} `));
  assert.ok(found, `no ${name} line in:\n${run.stdout}`);
  return [found.slice(0, 5).trim(), found.slice(15)];
}

/** Every file under `dir` with its size and modification time: what "changes nothing" compares. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true })) {
    const info = await stat(join(dir, entry));
    out[entry] = info.isDirectory() ? 'dir' : `${info.size}:${info.mtimeMs}`;
  }
  return out;
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A test that needs a service: skipped with the reason when it is missing, failed under CI. */
const needs = (problem: string | undefined) => (problem && !inCi ? { skip: problem } : {});

const openssl = await opensslAvailable();
const postgres = await postgresProblem();
const redis = await redisProblem();

describe('pier check', () => {
  let parent: string;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'pier-check-'));
  });
  after(() => rm(parent, { recursive: true, force: true }));

  it('passes before the first start, and creates no data directory', async () => {
    const data = join(parent, 'fresh', 'data');
    const result = await runPier(['check', '--data', data]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(line(result, 'config'), ['ok', `no config file; data ${data}; auth token`]);
    assert.deepEqual(line(result, 'database'), ['ok', `${join(data, 'pier.db')} (the file does not exist yet: created at the first start)`]);
    assert.equal(line(result, 'storage')[0], 'ok');
    assert.equal(line(result, 'secret')[0], 'ok');
    assert.equal(line(result, 'redis')[0], 'skip');
    assert.equal(line(result, 'tls')[0], 'skip');
    assert.ok(!(await readdir(parent)).includes('fresh'), 'nothing was created');
  });

  it('reads a stopped installation without touching a file (no -wal, no -shm)', async () => {
    const data = join(parent, 'stopped');
    await withData(data, async (core) => {
      await core.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
    });
    await writeFile(join(data, 'secret.key'), `${'ab'.repeat(32)}\n`);
    const before = await snapshot(data);
    assert.ok(!('pier.db-wal' in before), 'the database was closed cleanly');
    const result = await runPier(['check', '--data', data]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(line(result, 'database'), ['ok', `${join(data, 'pier.db')} (schema current, ${MIGRATIONS.length} migrations)`]);
    assert.deepEqual(line(result, 'secret'), ['ok', join(data, 'secret.key')]);
    assert.deepEqual(await snapshot(data), before);
  });

  it('reads the database of a running server, creating no file beside it', async () => {
    const data = join(parent, 'running');
    await withData(data, async () => {
      const before = Object.keys(await snapshot(data)).sort();
      assert.ok(before.includes('pier.db-wal'), 'the open database has its -wal file');
      const result = await runPier(['check', '--data', data]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(line(result, 'database')[0], 'ok');
      assert.deepEqual(Object.keys(await snapshot(data)).sort(), before);
    });
  });

  it('names every failing backend, never prints a password, and exits 1', async () => {
    const data = join(parent, 'broken');
    await mkdir(data);
    await writeFile(join(data, 'not-a-directory'), 'x');
    const [pgPort, redisPort] = [await closedPort(), await closedPort()];
    const result = await runPier(['check', '--data', data], {
      env: {
        PIER_DATABASE_URL: `postgres://pier:hunter2@127.0.0.1:${pgPort}/pier?schema=pier`,
        PIER_STORAGE_URL: `file://${join(data, 'not-a-directory')}`,
        PIER_REDIS_URL: `redis://:sw0rdfish@127.0.0.1:${redisPort}/0`,
        PIER_TLS_CERT: join(data, 'missing.crt'),
        PIER_TLS_KEY: join(data, 'missing.key'),
      },
    });
    assert.equal(result.code, 1);
    assert.equal(line(result, 'config')[0], 'ok');
    const [dbStatus, dbDetail] = line(result, 'database');
    assert.equal(dbStatus, 'FAIL');
    assert.equal(dbDetail, `PostgreSQL at pier@127.0.0.1:${pgPort}/pier?schema=pier does not answer (ECONNREFUSED): start it, or fix database.url (PIER_DATABASE_URL)`);
    assert.deepEqual(line(result, 'storage'), ['FAIL', `${join(data, 'not-a-directory')} is not a directory`]);
    const [redisStatus, redisDetail] = line(result, 'redis');
    assert.equal(redisStatus, 'FAIL');
    assert.match(redisDetail, new RegExp(`^redis://127\\.0\\.0\\.1:${redisPort}/0: .*ECONNREFUSED`));
    const [tlsStatus, tlsDetail] = line(result, 'tls');
    assert.equal(tlsStatus, 'FAIL');
    assert.match(tlsDetail, /tls\.cert \(PIER_TLS_CERT\): cannot read .*missing\.crt: ENOENT/);
    assert.match(result.stderr, /^pier: 4 of 6 checks failed$/m);
    assert.doesNotMatch(result.stdout + result.stderr, /hunter2|sw0rdfish/);
  });

  it('fails on a config it cannot load, naming the key', async () => {
    const result = await runPier(['check', '--data', join(parent, 'x')], { env: { PIER_LISTEN: 'nowhere' } });
    assert.equal(result.code, 1);
    const [status, detail] = line(result, 'config');
    assert.equal(status, 'FAIL');
    assert.match(detail, /invalid configuration/);
    assert.match(result.stdout, /listen \(from PIER_LISTEN\): expected host:port/);
  });

  it('fails on a file that is not a SQLite database, and on an unreadable secret', async () => {
    const data = join(parent, 'garbage');
    await mkdir(data);
    await writeFile(join(data, 'pier.db'), 'this is not a database, it is a text file of some length');
    const secret = join(data, 'short.key');
    await writeFile(secret, 'too short');
    const result = await runPier(['check', '--data', data], { env: { PIER_SECRET_KEY_FILE: secret } });
    assert.equal(result.code, 1);
    assert.deepEqual(line(result, 'database'), ['FAIL', `${join(data, 'pier.db')} is not a SQLite database`]);
    assert.deepEqual(line(result, 'secret'), [
      'FAIL',
      `auth.secretKeyFile (PIER_SECRET_KEY_FILE): the installation secret file ${secret} must hold 32 bytes: raw, as 64 hex characters or in base64 (for example \`openssl rand -hex 32 >${secret}\`); it holds 9 bytes of something else`,
    ]);
  });

  it('fails on a secret that does not decrypt the signing keys of the database, and on a missing one, as a start would', async () => {
    const data = join(parent, 'keys');
    await withData(data, async (core) => {
      const { KeyRing } = await import('../../src/auth/signing-keys.js');
      const { sqlSigningKeyStore } = await import('../../src/auth/signing-key-store.js');
      await KeyRing.open({ store: sqlSigningKeyStore(core.database.db), secret: Buffer.alloc(32, 1) });
    });
    await writeFile(join(data, 'secret.key'), `${'ab'.repeat(32)}\n`);
    const mismatch = await runPier(['check', '--data', data]);
    assert.equal(mismatch.code, 1);
    const [status, detail] = line(mismatch, 'secret');
    assert.equal(status, 'FAIL');
    assert.match(detail, new RegExp(`^the installation secret ${join(data, 'secret.key')} does not match the signing keys in the database \\(key \\S+ does not decrypt\\): start with the secret file this database was set up with .* if it is lost, \`pier keys reset --yes\` makes new keys`));
    const serve = await runPier(['serve', '--listen', '127.0.0.1:0', '--data', data]);
    assert.equal(serve.code, 1);
    assert.equal(serve.stderr.split('\n').find((l) => l.startsWith('pier: ')), `pier: ${detail}`, 'pier serve says the same');

    await rm(join(data, 'secret.key'));
    const missing = await runPier(['check', '--data', data]);
    assert.deepEqual(line(missing, 'secret'), ['FAIL', `${join(data, 'secret.key')} does not exist, but the database holds signing keys made with a secret: put that secret file back (or give its path in PIER_SECRET_KEY_FILE)`]);

    // the way out when the secret is lost: forget the keys, keep the new secret
    await writeFile(join(data, 'secret.key'), `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    const unconfirmed = await runPier(['keys', 'reset', '--data', data]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /Confirm with --yes/);
    const reset = await runPier(['keys', 'reset', '--yes', '--data', data]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stderr, /^forgot 1 signing key: start Pier/);
    assert.deepEqual(line(await runPier(['check', '--data', data]), 'secret'), ['ok', join(data, 'secret.key')]);
  });

  describe('TLS files', needs(openssl.ok ? undefined : openssl.reason), () => {
    let ca: TestCa;
    before(async () => {
      ca = await createTestCa();
    });
    after(() => ca?.remove());

    it('describes a certificate whose key matches', async () => {
      const cert = await ca.issue('registry.example', { ips: ['10.213.0.1'], dns: ['registry.example'] });
      const result = await runPier(['check', '--data', join(parent, 'tls-ok')], { env: { PIER_TLS_CERT: cert.certFile, PIER_TLS_KEY: cert.keyFile } });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const [status, detail] = line(result, 'tls');
      assert.equal(status, 'ok');
      assert.match(detail, /registry\.example\.crt: CN=registry\.example, IP Address:10\.213\.0\.1, DNS:registry\.example, valid until \d{4}-/);
    });

    it('fails when the key is another certificate’s', async () => {
      const cert = await ca.issue('mismatch', { dns: ['mismatch.example'] });
      const otherKey = await ca.newKey('unrelated');
      const result = await runPier(['check', '--data', join(parent, 'tls-bad')], { env: { PIER_TLS_CERT: cert.certFile, PIER_TLS_KEY: otherKey } });
      assert.equal(result.code, 1);
      const [status, detail] = line(result, 'tls');
      assert.equal(status, 'FAIL');
      assert.match(detail, /the key in .*unrelated\.key does not match the certificate in .*mismatch\.crt/);
    });
  });

  describe('PostgreSQL', needs(postgres), () => {
    const schema = freshSchemaName('check');
    const url = new URL(POSTGRES_TEST_URL);
    url.searchParams.set('schema', schema);
    const env = { PIER_DATABASE_URL: url.toString() };
    const admin = async <T>(run: (client: pg.Client) => Promise<T>): Promise<T> => {
      const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
      await client.connect();
      try {
        return await run(client);
      } finally {
        await client.end();
      }
    };
    const schemaExists = () => admin(async (c) => (await c.query('select 1 from pg_namespace where nspname = $1', [schema])).rowCount === 1);
    after(() => admin((c) => c.query(`drop schema if exists ${c.escapeIdentifier(schema)} cascade`)));

    it('reports a schema that does not exist yet without creating it', async () => {
      const result = await runPier(['check', '--data', join(parent, 'pg')], { env });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(line(result, 'database')[1], new RegExp(`\\?schema=${schema} \\(the schema does not exist yet: created at the first start\\)$`));
      assert.equal(await schemaExists(), false, 'pier check created nothing');
    });

    it('reports a current schema after pier migrate, and one a newer Pier migrated as a failure', async () => {
      const migrate = await runPier(['migrate'], { env });
      assert.equal(migrate.code, 0, migrate.stderr);
      const current = await runPier(['check', '--data', join(parent, 'pg')], { env });
      assert.equal(current.code, 0, current.stdout + current.stderr);
      assert.match(line(current, 'database')[1], new RegExp(`\\(schema current, ${MIGRATIONS.length} migrations\\)$`));

      await admin((c) => c.query(`insert into ${c.escapeIdentifier(schema)}.kysely_migration (name, timestamp) values ('999-future', now()::text)`));
      const newer = await runPier(['check', '--data', join(parent, 'pg')], { env });
      assert.equal(newer.code, 1);
      assert.deepEqual(line(newer, 'database')[0], 'FAIL');
      assert.match(line(newer, 'database')[1], /migrated by a newer version of Pier \(999-future unknown to this one\)/);
    });
  });

  it('pings Redis', needs(redis), async () => {
    const result = await runPier(['check', '--data', join(parent, 'redis')], { env: { PIER_REDIS_URL: redisTestUrl(), PIER_REDIS_PREFIX: 'pier-check:' } });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const [status, detail] = line(result, 'redis');
    assert.equal(status, 'ok');
    assert.match(detail, /^rediss?:\/\/[^ ]+ \(prefix pier-check:\)$/);
  });
});
