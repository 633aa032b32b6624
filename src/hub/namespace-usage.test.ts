// The storage a quota check reads is kept by triggers as rows change (migration 015), instead of
// summed over the namespace on every check. These tests hold it to the full query it replaced,
// after histories that go through every writer: pushes, mounts, uploads, deletions of tags,
// manifests and repositories, the collector, the pull-through cache; and after an upgrade.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { MetadataDatabase } from '../metadata/database.js';
import { columnTypes } from '../metadata/dialect.js';
import { GcIndex } from '../metadata/gc-index.js';
import { namespaceUsage } from '../metadata/migrations/015-namespace-usage.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { ProxyIndex } from '../metadata/proxy-index.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import type { Database } from '../metadata/schema.js';
import { PlanService } from './plans.js';
import { NamespaceUsage } from './usage.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const NAMESPACES = ['alice', 'bob', 'al'];
const REPOSITORIES = ['alice/app', 'alice/web', 'alice/deep/er', 'bob/app', 'al/x', 'alice', 'alice-x/y'];

/** What the quota counted before migration 015, summed over the namespace's rows on every check. */
async function fullCount(db: Kysely<Database>, namespace: string): Promise<number> {
  const range = (column: string) => sql`${sql.ref(column)} >= ${`${namespace}/`} and ${sql.ref(column)} < ${`${namespace}0`}`;
  const { rows } = await sql<{ blobs: number | string; manifests: number | string; uploads: number | string }>`select
      (select coalesce(sum(b.size), 0) from blobs b where b.digest in (select l.digest from blob_links l where ${range('l.repository')})) as blobs,
      (select coalesce(sum(held.size), 0) from (select m.digest, max(m.size) as size from manifests m where ${range('m.repository')} group by m.digest) held) as manifests,
      (select coalesce(sum(u.size + u.reserved), 0) from uploads u where ${range('u.repository')}) as uploads`.execute(db);
  const row = rows[0]!;
  return Number(row.blobs) + Number(row.manifests) + Number(row.uploads);
}

/** A small deterministic generator (a history is the same on every run and database). */
function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

for (const { name, open, options } of await testDatabases()) {
  describe(`namespace usage kept by triggers: ${name}`, options, () => {
    const withDatabase = (test: (database: MetadataDatabase, usage: NamespaceUsage) => Promise<void>) => async () => {
      const database = await open();
      try {
        await test(database, new NamespaceUsage(database.db, new PlanService(database.db)));
      } finally {
        await database.close();
      }
    };
    const expectSame = async (db: Kysely<Database>, usage: NamespaceUsage, when: string) => {
      for (const namespace of NAMESPACES) assert.equal(await usage.storageBytes(namespace), await fullCount(db, namespace), `${namespace}, ${when}`);
    };

    it('counts a blob linked twice in a namespace once, and until its last link goes', withDatabase(async ({ db }, usage) => {
      const index = new RegistryIndex(db);
      await index.linkBlob('alice/app', D(1), 1000, 1);
      await index.linkBlob('alice/web', D(1), 1000, 1);
      await index.linkBlob('bob/app', D(1), 1000, 1);
      await index.linkBlob('alice', D(2), 500, 1); // a name without a namespace counts nowhere
      assert.equal(await usage.storageBytes('alice'), 1000);
      assert.equal(await usage.storageBytes('bob'), 1000);
      await index.unlinkBlob('alice/app', D(1));
      assert.equal(await usage.storageBytes('alice'), 1000, 'alice/web still links it');
      await index.unlinkBlob('alice/web', D(1));
      assert.equal(await usage.storageBytes('alice'), 0);
      assert.equal(await usage.storageBytes('bob'), 1000);
      await index.putManifest({ repository: 'alice/app', digest: D(9), mediaType: 'application/vnd.oci.image.manifest.v1+json', content: Buffer.alloc(300), references: [], tags: ['a'], now: 1 });
      await index.putManifest({ repository: 'alice/web', digest: D(9), mediaType: 'application/vnd.oci.image.manifest.v1+json', content: Buffer.alloc(300), references: [], tags: ['b'], now: 1 });
      assert.equal(await usage.storageBytes('alice'), 300, 'a manifest in two repositories counts once');
      assert.equal(await usage.holdsManifest('alice', D(9)), true);
      await index.deleteRepository('alice/app');
      assert.equal(await usage.storageBytes('alice'), 300);
      await index.deleteRepository('alice/web');
      assert.equal(await usage.storageBytes('alice'), 0);
      assert.equal(await usage.holdsManifest('alice', D(9)), false);
    }));

    it('equals the full count after a mixed history of every writer', withDatabase(async ({ db }, usage) => {
      const index = new RegistryIndex(db);
      const gc = new GcIndex(db);
      const proxy = new ProxyIndex(db);
      const next = random(14);
      const size = (digest: number) => 100 + digest * 7;
      let now = 10;
      for (let step = 0; step < 400; step++) {
        now += 1;
        const repository = REPOSITORIES[next(REPOSITORIES.length)]!;
        const digest = 1 + next(30);
        const manifestDigest = 100 + next(20);
        switch (next(10)) {
          case 0:
          case 1:
            await index.linkBlob(repository, D(digest), size(digest), now);
            break;
          case 2: {
            const id = `u${step}`;
            await index.createUpload({ id, repository, size: 0, sha256: 'x', created_at: now, updated_at: now }, { claim: 'c', until: now + 100, reserved: 50 });
            await index.advanceUpload(id, 'c', 40, 'y', now);
            if (next(2) === 0) await index.completeUpload(id, repository, D(digest), size(digest), now, async () => true);
            break;
          }
          case 3: {
            const layers = [1 + next(30), 1 + next(30)];
            for (const layer of layers) await index.linkBlob(repository, D(layer), size(layer), now);
            const references = layers.map((layer) => ({ digest: D(layer), kind: 'blob' as const, size: size(layer) }));
            const subject = next(3) === 0 ? D(100 + next(20)) : undefined;
            await index.putManifest({ repository, digest: D(manifestDigest), mediaType: 'application/vnd.oci.image.manifest.v1+json', content: Buffer.alloc(200 + manifestDigest), references, subject, tags: [`t${next(4)}`], now });
            break;
          }
          case 4:
            await index.unlinkBlob(repository, D(digest));
            break;
          case 5:
            if (next(2) === 0) await index.deleteTag(repository, `t${next(4)}`, { now });
            else await index.deleteManifest(repository, D(manifestDigest), { now });
            break;
          case 6:
            if (next(4) === 0) await index.deleteRepository(repository);
            break;
          case 7: {
            // the collector: untagged manifests, then links no manifest names
            for (const untagged of await gc.untaggedManifests(repository, now + 1, '', 100)) await gc.deleteUntagged(repository, untagged, now + 1, now);
            await gc.deleteUnreferencedLinks(await gc.unreferencedLinks(undefined, now - 5, 50), now - 5);
            break;
          }
          case 8:
            await proxy.cacheManifest({ repository: `al/cache${next(2)}`, namespace: 'al', digest: D(manifestDigest), mediaType: 'application/vnd.oci.image.manifest.v1+json', content: Buffer.alloc(200 + manifestDigest), references: [{ digest: D(digest), kind: 'blob' }], tag: 'latest', now });
            break;
          default:
            // a mount: the link of a blob stored for another repository
            await index.linkBlob(repository, D(digest), size(digest), now, async () => true);
        }
        if (step % 25 === 0) await expectSame(db, usage, `step ${step}`);
      }
      await expectSame(db, usage, 'at the end');
      // the changes were folded as they were read: a few rows per namespace, not one per change
      const changes = await db.selectFrom('namespace_usage').select((eb) => eb.fn.countAll<number | string>().as('n')).where('namespace', '=', 'alice').executeTakeFirstOrThrow();
      assert.ok(Number(changes.n) <= 65, `${changes.n} rows of changes for alice`);
    }));

    it('is backfilled when a database with data is upgraded', withDatabase(async (database, usage) => {
      const { db } = database;
      const index = new RegistryIndex(db);
      for (const [i, repository] of REPOSITORIES.entries()) {
        await index.linkBlob(repository, D(1), 1000, 1);
        await index.linkBlob(repository, D(2 + i), 10 * i, 1);
        await index.putManifest({ repository, digest: D(50 + (i % 2)), mediaType: 'application/vnd.oci.image.manifest.v1+json', content: Buffer.alloc(77 + (i % 2)), references: [], tags: ['t'], now: 1 });
      }
      // as before migration 015: no counts, no triggers; then the migration runs on the data
      if (database.dialect === 'postgres') {
        await sql`drop table namespace_blobs, namespace_manifests, namespace_usage`.execute(db);
        await sql`drop function blob_links_usage, manifests_usage cascade`.execute(db);
      } else {
        for (const table of ['blob_links', 'manifests']) for (const event of ['insert', 'delete', 'update']) await sql.raw(`drop trigger ${table}_usage_${event}`).execute(db);
        for (const table of ['namespace_blobs', 'namespace_manifests', 'namespace_usage']) await sql.raw(`drop table ${table}`).execute(db);
      }
      for (const namespace of NAMESPACES) assert.ok((await fullCount(db, namespace)) > 0 || namespace === 'bob');
      await namespaceUsage.up(db, columnTypes(database.dialect));
      await expectSame(db, usage, 'after the backfill');
      await index.deleteRepository('alice/app');
      await expectSame(db, usage, 'after a deletion that follows it');
    }));
  });
}
