import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely, type RawBuilder } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * The few column types that differ between SQLite and PostgreSQL, decided once so that
 * migrations stay portable. Keys that are ordered or paginated compare bytes on every database.
 */
export interface ColumnTypes {
  /** for what only one database has (full-text search: metadata/full-text.ts) */
  dialect: DialectName;
  /** ordered text (names, tags, digests): byte order */
  key: RawBuilder<unknown>;
  binary: RawBuilder<unknown>;
  /** epoch milliseconds and byte counts */
  bigint: RawBuilder<unknown>;
}

export function columnTypes(dialect: DialectName): ColumnTypes {
  return dialect === 'postgres'
    ? { dialect, key: sql`text collate "C"`, binary: sql`bytea`, bigint: sql`bigint` }
    : { dialect, key: sql`text`, binary: sql`blob`, bigint: sql`integer` };
}

/**
 * The dialect behind a Kysely instance, for the few queries that differ (full-text search).
 * Kysely marks getExecutor() internal; it is the one place that knows which adapter runs.
 */
export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

export const notNull = (col: ColumnDefinitionBuilder) => col.notNull();

export interface Migration {
  name: string;
  up(db: Kysely<any>, types: ColumnTypes): Promise<void>;
}
