import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { MetadataDatabase } from '../metadata/database.js';
import type { Digest } from '../oci/digest.js';
import { loadConfig, type Config } from '../server/config.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { BlobCopyReport, BlobResult, BlobToCopy } from '../storage/copy-blobs.js';
import { parseStorageUrl, storageUrlProblem } from '../storage/storage-url.js';
import { dataDirOptions, type DataDirFlags } from './data-dir.js';
import { CliError, usageError } from './errors.js';

interface MigrateFlags extends DataDirFlags {
  toDatabase?: string;
  toStorage?: string;
  resume?: boolean;
  verify?: boolean;
  concurrency: string;
}

/**
 * `pier migrate-storage`: moves an installation to other backends (SQLite and the data directory
 * to PostgreSQL and S3, or any other pair) without losing anything. The server must be stopped
 * (or in maintenance) while it runs. Blobs are copied first, each checked by digest before it
 * is committed, then the database, verified table by table. Nothing is removed from the source.
 */
export function registerMigrateStorage(program: Command): void {
  dataDirOptions(
    program
      .command('migrate-storage')
      .description('copy the installation (database and blobs) to other backends, checked by digest; stop the server first')
      .option('--to-database <url>', 'target database: postgres://user@host:5432/db[?schema=s], or sqlite:///path/pier.db')
      .option('--to-storage <url>', 'target blob storage: s3://bucket/prefix?endpoint=…&region=…, or file:///path')
      .option('--resume', 'continue into a target that holds data already: blobs there are skipped, rows there are updated to the source where they differ')
      .option('--verify', 'reread every blob from the target and check its digest')
      .option('--concurrency <n>', 'blobs copied at once', '4'),
  ).action(async (flags: MigrateFlags) => {
    try {
      await migrateStorage(flags);
    } catch (error) {
      // a refused target, an unknown table, a value that cannot be kept exact: one line, exit 1
      if ((error as Error).name === 'DatabaseCopyError') throw new CliError((error as Error).message, 1);
      throw error;
    }
  });
}

async function migrateStorage(flags: MigrateFlags): Promise<void> {
  if (!flags.toDatabase && !flags.toStorage) throw usageError('name a target: --to-database URL and/or --to-storage URL');
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw usageError('--concurrency: a whole number from 1 to 64');
  if (flags.toStorage) {
    const problem = storageUrlProblem(flags.toStorage);
    if (problem) throw usageError(`--to-storage: ${problem}`);
  }
  const targetSqlite = flags.toDatabase ? sqlitePath(flags.toDatabase) : undefined;
  if (flags.toDatabase && !targetSqlite && !/^postgres(?:ql)?:\/\/[^/?#]/i.test(flags.toDatabase)) {
    throw usageError('--to-database: postgres://user@host:5432/db (?schema=name picks a schema), or sqlite:///path/pier.db');
  }

  const config = loadConfig({ file: flags.config, overrides: { data: flags.data } });
  const sourceDatabase = config.database.url ? redact(config.database.url) : join(config.data, 'pier.db');
  if (!config.database.url && !existsSync(sourceDatabase)) {
    throw new CliError(`no Pier database in ${config.data} (${sourceDatabase} does not exist): give the server's data directory with --data or PIER_DATA`, 2);
  }
  const sourceStorage = config.storage.url ?? `file://${join(config.data, 'storage')}`;
  if (flags.toDatabase && sameDatabase(config, flags.toDatabase, targetSqlite)) throw usageError('--to-database names the database the installation uses now');
  if (flags.toStorage && sameStorage(sourceStorage, flags.toStorage)) throw usageError('--to-storage names the storage the installation uses now');

  const { openDatabase, openSqlite } = await import('../metadata/database.js');
  const { openStore } = await import('../storage/open-store.js');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`source: database ${sourceDatabase}, storage ${sourceStorage}`);
  out(`target: database ${flags.toDatabase ? redact(flags.toDatabase) : '(unchanged)'}, storage ${flags.toStorage ?? '(unchanged)'}`);

  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    // the source is read as it is: opening it the usual way would migrate it, in production
    const source = await openDatabase(config.database.url, config.data, { migrate: false });
    opened.push(source);
    await checkSourceVersion(source, sourceDatabase);
    let target: MetadataDatabase | undefined;
    if (flags.toDatabase) {
      target = targetSqlite ? await openSqlite({ path: targetSqlite }) : await openDatabase(flags.toDatabase, config.data);
      opened.push(target);
      // refuse a wrong target before any blob is copied
      const { checkCopy } = await import('../metadata/copy-database.js');
      await checkCopy({ source, target, resume: flags.resume });
    }

    let problems = 0;
    if (flags.toStorage) {
      const sourceStore = await openStore({ url: config.storage.url, fsync: config.storage.fsync, dataDir: config.data });
      opened.push({ close: async () => sourceStore.close?.() });
      const targetStore = await openStore({ url: flags.toStorage, fsync: config.storage.fsync, dataDir: config.data });
      opened.push({ close: async () => targetStore.close?.() });
      problems += await moveBlobs(source, sourceStore, targetStore, flags, concurrency, out);
    }
    if (target) problems += await moveDatabase(source, target, flags.resume === true, config, out);

    if (problems > 0) {
      throw new CliError(`migration incomplete: ${problems} problem(s), listed above; the source is untouched: fix them and run again with --resume`, 1);
    }
    out('done: every blob and every row is in the target and checked.');
    const next = [
      ...(flags.toDatabase ? [`PIER_DATABASE_URL=${targetSqlite ? '(unset: SQLite in the data directory)' : redact(flags.toDatabase)}`] : []),
      ...(flags.toStorage ? [`PIER_STORAGE_URL=${flags.toStorage}`] : []),
    ];
    out(`next: start Pier with ${next.join(' and ')}`);
  } finally {
    for (const resource of opened.reverse()) await resource.close().catch(() => {});
  }
}

/**
 * Refuses a source whose migrations differ from this version's: one with pending migrations
 * would have to be migrated (it is not this command's to change), and its tables would not match
 * the target's; one migrated by a newer Pier has tables this version does not know.
 */
async function checkSourceVersion(source: MetadataDatabase, location: string): Promise<void> {
  const { migrationStatus } = await import('../metadata/inspect.js');
  let applied: string[];
  try {
    applied = await appliedMigrations(source);
  } catch (error) {
    throw new CliError(`source database ${location}: ${(error as Error).message || String(error)}`, 1);
  }
  const { pending, unknown } = await migrationStatus(applied);
  if (unknown.length > 0) {
    throw new CliError(`the source database ${location} was migrated by a newer version of Pier (${unknown.join(', ')} unknown to this one): run that version's migrate-storage`, 1);
  }
  if (pending.length > 0) {
    throw new CliError(
      `the source database ${location} has ${pending.length} migration(s) this version would apply (${pending.join(', ')}), and migrate-storage does not change its source: start the old server once with this version, or run \`pier migrate\` on it first`,
      1,
    );
  }
}

/** The migrations the database records as applied: none when it has no migration table. */
async function appliedMigrations(database: MetadataDatabase): Promise<string[]> {
  const { DEFAULT_MIGRATION_TABLE, sql } = await import('kysely');
  const found =
    database.dialect === 'postgres'
      ? (await sql<{ found: boolean }>`select to_regclass(${DEFAULT_MIGRATION_TABLE}) is not null as found`.execute(database.db)).rows[0]?.found === true
      : (await sql`select 1 from sqlite_master where type = 'table' and name = ${DEFAULT_MIGRATION_TABLE}`.execute(database.db)).rows.length > 0;
  if (!found) return [];
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)} order by name`.execute(database.db);
  return rows.map((row) => row.name);
}

async function moveBlobs(source: MetadataDatabase, sourceStore: BlobStore, targetStore: BlobStore, flags: MigrateFlags, concurrency: number, out: (line: string) => void): Promise<number> {
  const { copyBlobs, PROBLEMS } = await import('../storage/copy-blobs.js');
  const { indexedBlobs, indexedBlobTotals } = await import('../metadata/copy-database.js');
  const totals = await indexedBlobTotals(source);
  out(`blobs: ${totals.blobs} in the source index (${bytes(totals.bytes)}), ${concurrency} at a time${flags.verify ? ', each reread from the target' : ''}`);

  let done = 0;
  let doneBytes = 0;
  const tick = throttled(2_000);
  const onBlob = (result: BlobResult) => {
    done++;
    doneBytes += result.size;
    if (PROBLEMS.has(result.outcome)) process.stderr.write(`pier: blob ${result.digest} (${bytes(result.size)}): ${result.outcome}: ${result.detail ?? ''}\n`);
    if (tick()) out(`blobs: ${done}/${totals.blobs} (${bytes(doneBytes)} of ${bytes(totals.bytes)})`);
  };
  const report = await copyBlobs({ source: sourceStore, target: targetStore, blobs: asBlobs(indexedBlobs(source)), concurrency, verify: flags.verify, onBlob });
  out(`blobs: ${summary(report)}`);
  return report.problems.length;
}

async function* asBlobs(rows: AsyncIterable<{ digest: string; size: number }>): AsyncGenerator<BlobToCopy> {
  for await (const row of rows) yield { digest: row.digest as Digest, size: row.size };
}

function summary(report: BlobCopyReport): string {
  return [
    `${report.total} (${bytes(report.totalBytes)})`,
    `${report.copied} copied (${bytes(report.copiedBytes)})`,
    `${report.present} already there (${bytes(report.presentBytes)})`,
    ...(report.verified > 0 ? [`${report.verified} verified`] : []),
    `${report.problems.length} problem(s)`,
  ].join(', ');
}

async function moveDatabase(source: MetadataDatabase, target: MetadataDatabase, resume: boolean, config: Config, out: (line: string) => void): Promise<number> {
  const { copyDatabase } = await import('../metadata/copy-database.js');
  const tick = throttled(2_000);
  const report = await copyDatabase({
    source,
    target,
    resume,
    onProgress: (p) => {
      if (p.done || tick()) out(`database: ${p.table}: ${p.copied + p.alreadyThere}/${p.sourceRows} rows${p.done ? '' : '…'}`);
    },
  });
  const copied = report.tables.reduce((sum, t) => sum + t.copied, 0);
  const there = report.tables.reduce((sum, t) => sum + t.alreadyThere, 0);
  const checked = report.tables.filter((t) => !t.skipped);
  out(`database: ${checked.length} tables, ${copied} rows copied, ${there} already there; ${report.problems.length === 0 ? 'row counts and checksums equal' : `${report.problems.length} table(s) differ`}`);
  if (report.sequencesReset > 0) out(`database: ${report.sequencesReset} sequence(s) moved past the copied rows`);
  for (const table of report.tables) {
    if (table.skipped && table.sourceRows > 0) out(`database: ${table.table}: ${table.sourceRows} row(s) not moved: ${table.skipped}`);
  }
  for (const problem of report.problems) process.stderr.write(`pier: ${problem}\n`);
  const secret = config.auth.secretKeyFile ?? join(config.data, 'secret.key');
  out(`keep the installation secret ${secret}: the signing keys in the database are encrypted with it; give it to every replica with PIER_SECRET_KEY_FILE`);
  return report.problems.length;
}

/** The path of a `sqlite:///path/pier.db` URL, or undefined when `url` is not one. */
function sqlitePath(url: string): string | undefined {
  if (!/^sqlite:/i.test(url)) return undefined;
  if (!URL.canParse(url)) throw usageError('--to-database: sqlite:///absolute/path/pier.db');
  const path = decodeURIComponent(new URL(url).pathname);
  if (path.length < 2) throw usageError('--to-database: sqlite:///absolute/path/pier.db');
  return resolve(path);
}

function sameDatabase(config: Config, toDatabase: string, targetSqlite: string | undefined): boolean {
  if (targetSqlite) return !config.database.url && resolve(targetSqlite) === resolve(join(config.data, 'pier.db'));
  if (!config.database.url) return false;
  const a = new URL(config.database.url);
  const b = new URL(toDatabase);
  const where = (u: URL) => `${u.hostname}:${u.port || '5432'}${u.pathname}?${u.searchParams.get('schema') ?? ''}`;
  return where(a) === where(b);
}

function sameStorage(a: string, b: string): boolean {
  const x = parseStorageUrl(a);
  const y = parseStorageUrl(b);
  if (x.kind === 'file' && y.kind === 'file') return resolve(x.root) === resolve(y.root);
  if (x.kind === 's3' && y.kind === 's3') {
    const [p, q] = [x.settings, y.settings];
    return p.bucket === q.bucket && p.prefix === q.prefix && p.endpoint === q.endpoint;
  }
  return false;
}

/** A URL without its password, for printing. */
function redact(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** true at most once per `ms`, the first time `ms` after it was made. */
function throttled(ms: number): () => boolean {
  let last = Date.now();
  return () => {
    const now = Date.now();
    if (now - last < ms) return false;
    last = now;
    return true;
  };
}
