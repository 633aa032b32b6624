import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import { columnTypes, type DialectName } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import { PierPostgresDialect } from './postgres-introspector.js';
import type { Database } from './schema.js';

export interface MetadataDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  close(): Promise<void>;
  /**
   * SQLite only: its `data_version`, which changes when another connection (a CLI command,
   * another process on the file) committed, not for this one's own writes. Read straight from
   * the driver, without Kysely's query building and connection hand-off: a manifest cache asks
   * it before every read (1 µs instead of some 20).
   */
  dataVersion?: () => number;
  /**
   * SQLite only: a value that moves with every write to the database, by this connection
   * (`total_changes()`) or another (`data_version`), read the same way: what lets ReadCache keep
   * answers while nothing changed.
   */
  changes?: () => string;
}

export interface OpenOptions {
  /**
   * Apply pending migrations (the default). false opens the database as it is, creating nothing
   * (`pier migrate-storage` reads its source so, after checking that nothing is pending).
   */
  migrate?: boolean;
}

export interface SqliteOptions extends OpenOptions {
  /** a file path, or ':memory:' */
  path: string;
}

export async function openSqlite(options: SqliteOptions): Promise<MetadataDatabase> {
  const migrating = options.migrate !== false;
  if (options.path !== ':memory:' && migrating) {
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    // made here so that it is private (password hashes): SQLite gives its -wal and -shm files the
    // database file's mode, where a file it creates itself would be readable by everyone
    if (!existsSync(options.path)) closeSync(openSync(options.path, 'a', 0o600));
  }
  const sqlite = new SQLite(options.path, { fileMustExist: !migrating && options.path !== ':memory:' });
  // persistent, a write to the file: a database opened as it is keeps its mode (Pier's are WAL)
  if (migrating) sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  cacheStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  if (migrating) await migrate(db, 'sqlite');
  const dataVersion = sqlite.prepare('pragma data_version').pluck();
  const totalChanges = sqlite.prepare('select total_changes()').pluck();
  return {
    db,
    dialect: 'sqlite',
    close: () => db.destroy(),
    dataVersion: () => dataVersion.get() as number,
    changes: () => `${dataVersion.get() as number}:${totalChanges.get() as number}`,
  };
}

export interface PostgresOptions extends OpenOptions {
  /** `postgres://user:password@host:5432/database` (or `postgresql://`) */
  url: string;
  /** a schema of its own, created if missing and first on every connection's search_path */
  schema?: string;
  /** the most connections this process opens; 10 by default */
  poolSize?: number;
  /** errors of idle pooled connections (the server restarted, the network dropped); ignored by default */
  onError?: (error: Error) => void;
}

/** Lower-case SQL identifiers only: the schema is put into a connection parameter and into DDL. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * PostgreSQL for many replicas: a bounded connection pool, the same Kysely queries and migrations
 * as SQLite. int8 columns (epoch ms, byte counts, COUNT(*)) come back as numbers: every one of
 * ours is below 2^53. The parser is set on this pool's connections only, not on pg globally.
 */
export async function openPostgres(options: PostgresOptions): Promise<MetadataDatabase> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _`);
  }
  const migrating = options.migrate !== false;
  // loaded only when configured: an installation on SQLite does not pay for pg in memory
  const { default: pg } = await import('pg');
  // The schema exists before any pooled connection names it in its search_path.
  if (schema && migrating) await createSchema(pg, options.url, schema);
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    types,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client that loses its connection emits 'error' on the pool; unhandled, it would end the process.
  pool.on('error', options.onError ?? (() => {}));
  const db = new Kysely<Database>({ dialect: new PierPostgresDialect({ pool }) });
  if (!migrating) return { db, dialect: 'postgres', close: () => db.destroy() };
  try {
    // Kysely looks for its migration tables in every schema unless told which one: name ours.
    const current = schema ?? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema;
    if (!current) throw new Error('no schema to create tables in: the search_path names none that exists');
    await migrate(db, 'postgres', current);
  } catch (error) {
    await db.destroy().catch(() => {});
    throw new Error(`PostgreSQL at ${describeUrl(options.url)}: ${(error as Error).message || String(error)}`, { cause: error });
  }
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

async function createSchema(pg: typeof import('pg').default, url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    await client.query(`create schema if not exists "${schema}"`); // checked against SCHEMA_NAME
  } catch (error) {
    // Two replicas creating the same schema at once: one of them gets a unique violation.
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') {
      throw new Error(`PostgreSQL at ${describeUrl(url)}: ${(error as Error).message || String(error)}`, { cause: error });
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/** The URL without its password, for messages. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export const isPostgresUrl = (url: string): boolean => /^postgres(?:ql)?:\/\//i.test(url);

/**
 * The metadata database the config names: PostgreSQL for a `postgres://` URL (a `schema` query
 * parameter selects the schema), SQLite in the data directory when no URL is set.
 */
export async function openDatabase(url: string | undefined, dataDir: string, options: OpenOptions = {}): Promise<MetadataDatabase> {
  if (url === undefined || url === '') return openSqlite({ ...options, path: join(dataDir, 'pier.db') });
  if (!isPostgresUrl(url)) throw new Error('the database URL must start with postgres:// or postgresql://');
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  return openPostgres({ ...options, url: parsed.toString(), schema });
}

/**
 * Kysely prepares every query anew; on the hot path (manifest GET, blob HEAD) preparing costs more
 * than running. Statements are reused by their SQL text, a bounded number of them.
 */
function cacheStatements(sqlite: SQLite.Database, limit = 256): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SQLite.Statement>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      if (cache.size >= limit) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

/**
 * Runs pending migrations; Kysely's migrator takes a lock (on PostgreSQL an advisory lock in the
 * migration's transaction), so replicas starting together run them once. On PostgreSQL
 * `migrationSchema` is where Kysely's own bookkeeping tables live (the connection's schema).
 */
export async function migrate(db: Kysely<Database>, dialect: DialectName, migrationSchema?: string): Promise<void> {
  const types = columnTypes(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      return Object.fromEntries(MIGRATIONS.map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    },
  };
  // numbers are reserved per feature, so a release may add 007 after one that applied 009: those
  // that were never applied run, whatever their place (007-lifecycle.test.ts)
  const { error, results } = await new Migrator({ db, provider, allowUnorderedMigrations: true, ...(migrationSchema ? { migrationTableSchema: migrationSchema } : {}) }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}
