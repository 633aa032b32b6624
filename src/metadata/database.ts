import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type MigrationProvider } from 'kysely';
import { columnTypes, type DialectName } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';

export interface MetadataDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  close(): Promise<void>;
}

export interface SqliteOptions {
  /** a file path, or ':memory:' */
  path: string;
}

export async function openSqlite(options: SqliteOptions): Promise<MetadataDatabase> {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const sqlite = new SQLite(options.path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  cacheStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db, 'sqlite');
  return { db, dialect: 'sqlite', close: () => db.destroy() };
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

/** Runs pending migrations; Kysely's migrator takes a lock, so replicas starting together run them once. */
export async function migrate(db: Kysely<Database>, dialect: DialectName): Promise<void> {
  const types = columnTypes(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      return Object.fromEntries(MIGRATIONS.map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    },
  };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}
