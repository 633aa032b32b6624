// Garbage collection at scale (issue 11): a fixture of 100,000 blobs and 20,000 manifests written
// straight into a fresh index (SQLite in a temporary directory, and a fresh PostgreSQL schema) and
// a filesystem store, half of the manifests untagged; then one collection with --untagged and a
// grace of an hour, which deletes the untagged half and the blobs only they named. Prints the
// collection's time and the process's peak memory (RSS and heap, sampled every 20 ms) against
// the same figures before it: memory must stay flat however large the registry.
//
//   npm run bench:gc                                     # both backends, 100,000 blobs
//   npm run bench:gc -- --blobs 20000 --backends sqlite
//
// See bench/README.md ("Garbage collection").
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { openPostgres, openSqlite, type MetadataDatabase } from '../src/metadata/database.js';
import { GcIndex } from '../src/metadata/gc-index.js';
import { RegistryIndex } from '../src/metadata/registry-index.js';
import type { Database } from '../src/metadata/schema.js';
import type { Digest } from '../src/oci/digest.js';
import { GarbageCollector } from '../src/registry/gc/collector.js';
import { noManifestCache } from '../src/registry/ports.js';
import { createFsStore } from '../src/storage/fs-store.js';

const { values: options } = parseArgs({
  options: {
    blobs: { type: 'string', default: process.env.BENCH_BLOBS ?? '100000' },
    backends: { type: 'string', default: process.env.BENCH_BACKENDS ?? 'sqlite,postgres' },
    'database-url': { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});

const BLOBS = Number(options.blobs);
const PER_MANIFEST = 5;
const MANIFESTS = BLOBS / PER_MANIFEST;
const PER_REPOSITORY = 20;
const HOUR = 3_600_000;

const digestOf = (i: number) => `sha256:${createHash('sha256').update(`blob ${i}`).digest('hex')}` as Digest;
const manifestDigest = (m: number) => `sha256:${createHash('sha256').update(`manifest ${m}`).digest('hex')}`;
const repositoryOf = (m: number) => `bench/r${Math.floor(m / PER_REPOSITORY)}`;

async function batches<T>(count: number, size: number, row: (i: number) => T, write: (rows: T[]) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += size) {
    const rows: T[] = [];
    for (let i = start; i < Math.min(count, start + size); i++) rows.push(row(i));
    await write(rows);
  }
}

/** The fixture: blobs (bytes and rows), manifests naming five each, links, a tag on every other manifest. */
async function fixture(db: Kysely<Database>, root: string): Promise<void> {
  const store = createFsStore({ root, fsync: false });
  const now = Date.now() - 2 * HOUR;
  const started = Date.now();
  // the bytes: each blob a few bytes of its own, through the store as a push writes them
  for (let start = 0; start < BLOBS; start += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, BLOBS - start) }, async (_, k) => {
        const i = start + k;
        const bytes = Buffer.from(`blob ${i}`);
        const id = `bench-${i}`;
        await store.createUpload(id);
        await store.append(id, 0, Readable.from([bytes]));
        await store.commit(id, `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest, bytes.length);
      }),
    );
  }
  const repositories = Math.ceil(MANIFESTS / PER_REPOSITORY);
  await batches(repositories, 500, (r) => ({ name: `bench/r${r}`, created_at: now }), (rows) => db.insertInto('repositories').values(rows).execute());
  // the digest of blob i is that of its bytes, `blob i`
  await batches(BLOBS, 500, (i) => ({ digest: `sha256:${createHash('sha256').update(`blob ${i}`).digest('hex')}`, size: `blob ${i}`.length, created_at: now, deleting_at: null }), (rows) =>
    db.insertInto('blobs').values(rows).execute(),
  );
  await batches(BLOBS, 500, (i) => ({ repository: repositoryOf(Math.floor(i / PER_MANIFEST)), digest: digestOf(i), linked_at: now, last_seen_at: now }), (rows) =>
    db.insertInto('blob_links').values(rows).execute(),
  );
  const content = Buffer.from('{"schemaVersion":2}');
  await batches(
    MANIFESTS,
    500,
    (m) => ({ repository: repositoryOf(m), digest: manifestDigest(m), media_type: 'application/vnd.oci.image.manifest.v1+json', size: content.length, content, artifact_type: null, subject: null, annotations: null, created_at: now }),
    (rows) => db.insertInto('manifests').values(rows).execute(),
  );
  await batches(BLOBS, 500, (i) => ({ repository: repositoryOf(Math.floor(i / PER_MANIFEST)), manifest_digest: manifestDigest(Math.floor(i / PER_MANIFEST)), digest: digestOf(i), kind: 'blob' as const }), (rows) =>
    db.insertInto('manifest_references').values(rows).execute(),
  );
  await batches(MANIFESTS / 2, 500, (t) => ({ repository: repositoryOf(2 * t), name: `v${2 * t}`, digest: manifestDigest(2 * t), updated_at: now, pushed_by: null }), (rows) =>
    db.insertInto('tags').values(rows).execute(),
  );
  console.log(`  fixture: ${BLOBS} blobs, ${MANIFESTS} manifests (${MANIFESTS / 2} tagged) in ${repositories} repositories, written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function sampleMemory() {
  const peak = { rss: 0, heap: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    peak.rss = Math.max(peak.rss, usage.rss);
    peak.heap = Math.max(peak.heap, usage.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 20);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function bench(name: string, open: () => Promise<MetadataDatabase & { drop?: () => Promise<void> }>): Promise<void> {
  console.log(`${name}:`);
  const root = mkdtempSync(join(tmpdir(), 'pier-bench-gc-'));
  const database = await open();
  try {
    await fixture(database.db, join(root, 'storage'));
    global.gc?.();
    const idle = sampleMemory();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const baseline = idle.stop();
    const collector = new GarbageCollector({
      gcIndex: new GcIndex(database.db),
      index: new RegistryIndex(database.db),
      store: createFsStore({ root: join(root, 'storage'), fsync: false }),
      clock: { now: () => Date.now() },
      manifestCache: noManifestCache,
    });
    const memory = sampleMemory();
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const report = await collector.collect({ untagged: true, graceMs: HOUR, trigger: 'bench' });
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    const peak = memory.stop();
    const left = Number((await database.db.selectFrom('blobs').select(({ fn }) => fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    console.log(`  collected: ${report.manifests} manifests, ${report.links} links, ${report.blobs} blobs (${report.bytesFreed} bytes); ${left} blobs left`);
    console.log(`  time: ${wall.toFixed(1)} s wall, ${((used.user + used.system) / 1e6).toFixed(1)} s CPU in this process`);
    console.log(`  memory: peak RSS ${mb(peak.rss)} (before ${mb(baseline.rss)}), peak heap ${mb(peak.heap)} (before ${mb(baseline.heap)})`);
  } finally {
    await database.close();
    await database.drop?.();
    rmSync(root, { recursive: true, force: true });
  }
}

for (const backend of options.backends.split(',')) {
  if (backend === 'sqlite') {
    await bench('SQLite + filesystem', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pier-bench-gc-db-'));
      const database = await openSqlite({ path: join(dir, 'pier.db') });
      return { ...database, drop: async () => rmSync(dir, { recursive: true, force: true }) };
    });
  } else if (backend === 'postgres') {
    const schema = `bench_gc_${process.pid}`;
    await bench('PostgreSQL + filesystem', async () => {
      const database = await openPostgres({ url: options['database-url'], schema, poolSize: 4 });
      return {
        ...database,
        async close() {
          await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db);
          await database.close();
        },
      };
    });
  }
}
