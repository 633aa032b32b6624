// `pier migrate-storage`: an installation made by a real server (SQLite and the data directory)
// moved to PostgreSQL and another storage, then served from there: every image pulls back byte
// for byte, passwords, tokens and signing keys still work; a rerun resumes; a source blob whose
// bytes changed on disk is reported and not copied.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import pg from 'pg';
import { columnTypes } from '../../src/metadata/dialect.js';
import { MIGRATIONS } from '../../src/metadata/migrations/index.js';
import { freshSchemaName, POSTGRES_TEST_URL, skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { TABLE_NAMES, TABLES } from '../../src/metadata/copy-database.js';

/** Tables the copier copies (the others, such as upload sessions and leases, are named as not moved). */
const COPIED_TABLES = TABLE_NAMES.filter((table) => !('skip' in TABLES[table])).length;
import { bearer, tokenFor, tokenGet } from '../support/auth.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { runPier } from '../support/cli.js';
import { s3TestStorageUrl, skipUnlessS3 } from '../support/s3.js';
import { bin, bodyOf, descriptorOf, jsonBytes, MT, ociManifest, sha256, pushBlob } from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';

const alice = { username: 'alice', secret: 'alice-password-1' };
const bob = { username: 'bob', secret: 'bob-password-1' };
const withSchema = (schema: string) => `${POSTGRES_TEST_URL}${POSTGRES_TEST_URL.includes('?') ? '&' : '?'}schema=${schema}`;
const s3 = await skipUnlessS3();
const blobPath = (storage: string, digest: string) => join(storage, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));

/** A SQLite database of an older Pier: only the first `count` migrations applied. */
async function olderSqlite(path: string, count: number): Promise<void> {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(path) }) });
  try {
    const types = columnTypes('sqlite');
    const migrations = Object.fromEntries(MIGRATIONS.slice(0, count).map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    const { error } = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).migrateToLatest();
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

describe('pier migrate-storage', { ...(await skipUnlessPostgres()), timeout: 5 * 60_000 }, () => {
  let dir: string;
  let source: string;
  const schemas: string[] = [];
  const images: PushedImage[] = [];
  let big: { digest: string; bytes: Buffer; manifest: Buffer };
  let pat: string;
  let sourceToken: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-migrate-'));
    source = join(dir, 'source');
    const server = await startTestServer({ 'auth.mode': 'token' }, { dataDir: source });
    try {
      await server.hub.accounts.create({ name: alice.username, password: alice.secret });
      await server.hub.accounts.create({ name: bob.username, password: bob.secret });
      pat = (await server.hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:read'] })).token;
      const token = await tokenFor(server.url, alice, ['repository:alice/app:pull,push', 'repository:alice/secret:pull,push', 'repository:alice/big:pull,push']);
      images.push(await pushImage(server.url, 'alice/app', 'v1', { token }));
      images.push(await pushImage(server.url, 'alice/app', 'v2', { token }));
      images.push(await pushImage(server.url, 'alice/secret', 'v1', { token }));
      await server.hub.repositories.setVisibility('alice/secret', true);
      // a layer of a few MiB, so that blobs stream in more than one read
      const bytes = randomBytes(3 * 1024 * 1024 + 5);
      const config = jsonBytes({ architecture: 'amd64', os: 'linux' });
      await pushBlob(server.url, 'alice/big', config, { token });
      await pushBlob(server.url, 'alice/big', bytes, { token });
      const manifest = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config), layers: [descriptorOf(MT.OciLayer, bytes)] }));
      const put = await fetch(`${server.url}/v2/alice/big/manifests/latest`, { method: 'PUT', headers: { ...bearer(token), 'content-type': MT.OciManifest }, body: bin(manifest) });
      assert.equal(put.status, 201);
      big = { digest: sha256(bytes), bytes, manifest };
      // an upload left unfinished: its session is not moved
      const started = await fetch(`${server.url}/v2/alice/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      assert.equal(started.status, 202);
      sourceToken = await tokenFor(server.url, alice, ['repository:alice/secret:pull']);
    } finally {
      await server.stop();
    }
  });

  after(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    try {
      for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
    } finally {
      await client.end();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const target = () => {
    const schema = freshSchemaName('migrate');
    schemas.push(schema);
    return { database: withSchema(schema), storage: join(dir, `storage-${schema}`) };
  };
  let moved: { database: string; storage: string };

  it('needs a target, and refuses to copy the installation onto itself', async () => {
    const none = await runPier(['migrate-storage', '--data', source]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--to-database URL and\/or --to-storage URL/);
    const self = await runPier(['migrate-storage', '--data', source, '--to-storage', `file://${join(source, 'storage')}`]);
    assert.equal(self.code, 2);
    assert.match(self.stderr, /the storage the installation uses now/);
    const nowhere = await runPier(['migrate-storage', '--data', join(dir, 'nothing'), '--to-storage', `file://${join(dir, 'x')}`]);
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /no Pier database/);
  });

  it('refuses a source that this version would migrate, and leaves it as it is', async () => {
    const older = join(dir, 'older');
    await mkdir(older);
    await olderSqlite(join(older, 'pier.db'), MIGRATIONS.length - 1);
    const last = MIGRATIONS.at(-1)!.name;
    const elsewhere = join(dir, 'older-target');
    const run = await runPier(['migrate-storage', '--data', older, '--to-database', `sqlite://${join(elsewhere, 'pier.db')}`, '--to-storage', `file://${join(elsewhere, 'storage')}`]);
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(run.stderr, new RegExp(`the source database ${join(older, 'pier.db')} has 1 migration\\(s\\) this version would apply \\(${last}\\)`));
    assert.match(run.stderr, /start the old server once with this version, or run `pier migrate` on it first/);
    assert.doesNotMatch(run.stdout, /^blobs:/m);
    assert.equal(existsSync(elsewhere), false, 'nothing was written to the target');
    const sqlite = new SQLite(join(older, 'pier.db'), { readonly: true });
    try {
      const applied = (sqlite.prepare('select name from kysely_migration order by name').all() as Array<{ name: string }>).map((r) => r.name);
      assert.deepEqual(applied, MIGRATIONS.slice(0, -1).map((m) => m.name), 'the source was not migrated');
    } finally {
      sqlite.close();
    }
  });

  it('moves SQLite and the data directory to PostgreSQL and another store', async () => {
    moved = target();
    const run = await runPier(['migrate-storage', '--data', source, '--to-database', moved.database, '--to-storage', `file://${moved.storage}`]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^source: database .*pier\.db, storage file:\/\/.*\/source\/storage$/m);
    assert.match(run.stdout, /^blobs: 8 in the source index \(3\.1 MB\), 4 at a time$/m);
    assert.match(run.stdout, /^blobs: 8 \([\d.]+ MB\), 8 copied \([\d.]+ MB\), 0 already there \(0 B\), 0 problem\(s\)$/m);
    assert.match(run.stdout, /^database: accounts: 2\/2 rows$/m);
    assert.match(run.stdout, new RegExp(`^database: ${COPIED_TABLES} tables, \\d+ rows copied, 0 already there; row counts and checksums equal$`, 'm'));
    assert.match(run.stdout, /^database: uploads: 1 row\(s\) not moved: upload sessions in flight/m);
    assert.match(run.stdout, new RegExp(`keep the installation secret ${join(source, 'secret.key')}.*PIER_SECRET_KEY_FILE`));
    assert.match(run.stdout, /^done: every blob and every row is in the target and checked\.$/m);
    assert.ok(existsSync(blobPath(moved.storage, big.digest)));
    assert.deepEqual(await readFile(blobPath(moved.storage, big.digest)), big.bytes);
  });

  it('refuses to copy again into a target that holds data, and resumes with --resume', async () => {
    const again = await runPier(['migrate-storage', '--data', source, '--to-database', moved.database, '--to-storage', `file://${moved.storage}`]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /the target database holds data already: accounts \(2\).*--resume/);
    assert.doesNotMatch(again.stdout, /^blobs:/m, 'refused before any blob is copied');

    const resumed = await runPier(['migrate-storage', '--data', source, '--to-database', moved.database, '--to-storage', `file://${moved.storage}`, '--resume', '--verify']);
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
    assert.match(resumed.stdout, /^blobs: 8 \(.*\), 0 copied \(0 B\), 8 already there \(.*\), 8 verified, 0 problem\(s\)$/m);
    assert.match(resumed.stdout, new RegExp(`^database: ${COPIED_TABLES} tables, 0 rows copied, \\d+ already there; row counts and checksums equal$`, 'm'));
  });

  it('serves everything from the target: pulls byte for byte, the same passwords, tokens and signing keys', async () => {
    const served: TestServer = await startTestServer(
      { 'auth.mode': 'token', 'database.url': moved.database, 'storage.url': `file://${moved.storage}`, 'auth.secretKeyFile': join(source, 'secret.key') },
      { dataDir: await mkdtemp(join(dir, 'target-data-')) },
    );
    try {
      const token = await tokenFor(served.url, alice, ['repository:alice/app:pull', 'repository:alice/secret:pull', 'repository:alice/big:pull']);
      const pulls: Array<{ repo: string; tag: string; manifest: Buffer; blobs: Array<[string, Buffer]> }> = [
        ...images.map((i) => ({ repo: i.repository, tag: i.reference, manifest: i.manifest, blobs: [[i.config.digest, i.config.bytes], [i.layers[0]!.digest, i.layers[0]!.bytes]] as Array<[string, Buffer]> })),
        { repo: 'alice/big', tag: 'latest', manifest: big.manifest, blobs: [[big.digest, big.bytes]] },
      ];
      for (const image of pulls) {
        const res = await fetch(`${served.url}/v2/${image.repo}/manifests/${image.tag}`, { headers: { ...bearer(token), accept: MT.OciManifest } });
        assert.equal(res.status, 200, `${image.repo}:${image.tag}`);
        assert.deepEqual(await bodyOf(res), image.manifest);
        for (const [digest, bytes] of image.blobs) {
          const blob = await fetch(`${served.url}/v2/${image.repo}/blobs/${digest}`, { headers: bearer(token) });
          assert.equal(blob.status, 200);
          assert.deepEqual(await bodyOf(blob), bytes, `${image.repo} ${digest}`);
        }
      }
      // a token signed by the old server verifies: the signing keys moved, and decrypt with the same secret
      const old = await fetch(`${served.url}/v2/alice/secret/manifests/v1`, { headers: { ...bearer(sourceToken), accept: MT.OciManifest } });
      assert.equal(old.status, 200);
      // the personal access token logs in; private stays private to others
      assert.equal((await tokenGet(served.url, { login: { username: 'alice', secret: pat }, scopes: ['repository:alice/secret:pull'] })).status, 200);
      const stranger = await tokenFor(served.url, bob, ['repository:alice/secret:pull']);
      const hidden = await fetch(`${served.url}/v2/alice/secret/manifests/v1`, { headers: { ...bearer(stranger), accept: MT.OciManifest } });
      assert.notEqual(hidden.status, 200);
      const wrong = await tokenGet(served.url, { login: { username: 'alice', secret: 'not the password' } });
      assert.equal(wrong.status, 401);
    } finally {
      await served.stop();
    }
  });

  it('moves to PostgreSQL and S3, and serves from there', s3, async () => {
    const bucket = await s3TestStorageUrl();
    const { database } = target();
    try {
      const run = await runPier(['migrate-storage', '--data', source, '--to-database', database, '--to-storage', bucket.url, '--verify', '--concurrency', '2']);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(run.stdout, /^blobs: 8 \(.*\), 8 copied \(.*\), 0 already there \(0 B\), 8 verified, 0 problem\(s\)$/m);
      assert.match(run.stdout, /row counts and checksums equal/);
      const served = await startTestServer(
        { 'auth.mode': 'token', 'database.url': database, 'storage.url': bucket.url, 'auth.secretKeyFile': join(source, 'secret.key') },
        { dataDir: await mkdtemp(join(dir, 'target-s3-')) },
      );
      try {
        const token = await tokenFor(served.url, alice, ['repository:alice/big:pull']);
        const manifest = await fetch(`${served.url}/v2/alice/big/manifests/latest`, { headers: { ...bearer(token), accept: MT.OciManifest } });
        assert.deepEqual(await bodyOf(manifest), big.manifest);
        const blob = await fetch(`${served.url}/v2/alice/big/blobs/${big.digest}`, { headers: bearer(token) });
        assert.equal(blob.status, 200);
        assert.deepEqual(await bodyOf(blob), big.bytes);
      } finally {
        await served.stop();
      }
    } finally {
      await bucket.cleanup();
    }
  });

  it('reports a source blob whose bytes changed on disk, copies the rest, and exits 1', async () => {
    const path = blobPath(join(source, 'storage'), big.digest);
    const bytes = await readFile(path);
    bytes[1_000_000] = bytes[1_000_000]! ^ 0x01;
    await writeFile(path, bytes);
    const back = join(dir, 'back');
    const run = await runPier(['migrate-storage', '--data', source, '--to-database', `sqlite://${join(back, 'pier.db')}`, '--to-storage', `file://${join(back, 'storage')}`]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, new RegExp(`blob ${big.digest} \\(3\\.1 MB\\): corrupt: the source holds bytes that hash to sha256:[0-9a-f]{64}: not copied`));
    assert.match(run.stderr, /migration incomplete: 1 problem\(s\)/);
    assert.match(run.stdout, /^blobs: 8 \(.*\), 7 copied \(.*\), 0 already there \(0 B\), 1 problem\(s\)$/m);
    assert.equal(existsSync(blobPath(join(back, 'storage'), big.digest)), false, 'the corrupt blob is not in the target');
    assert.ok(existsSync(blobPath(join(back, 'storage'), images[0]!.layers[0]!.digest)));
  });
});
