import { sql, type ColumnDefinitionBuilder, type Kysely, type RawBuilder } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * The few column types that differ between SQLite and PostgreSQL, decided once so that
 * migrations stay portable. Keys that are ordered or paginated compare bytes on every database.
 */
export interface ColumnTypes {
  /** ordered text (names, tags, digests): byte order */
  key: RawBuilder<unknown>;
  binary: RawBuilder<unknown>;
  /** epoch milliseconds and byte counts */
  bigint: RawBuilder<unknown>;
}

export function columnTypes(dialect: DialectName): ColumnTypes {
  return dialect === 'postgres'
    ? { key: sql`text collate "C"`, binary: sql`bytea`, bigint: sql`bigint` }
    : { key: sql`text`, binary: sql`blob`, bigint: sql`integer` };
}

export const notNull = (col: ColumnDefinitionBuilder) => col.notNull();

export interface Migration {
  name: string;
  up(db: Kysely<any>, types: ColumnTypes): Promise<void>;
}
