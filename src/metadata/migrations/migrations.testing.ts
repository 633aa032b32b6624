import { Kysely, Migrator, sql, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { openPostgres, openSqlite, type MetadataDatabase } from '../database.js';
import { columnTypes, type DialectName, type Migration } from '../dialect.js';
import { freshSchemaName, POSTGRES_TEST_URL, skipUnlessPostgres } from '../postgres.testing.js';
import { MIGRATIONS } from './index.js';

/**
 * Test support for migrations run on an installation that an earlier version migrated (not
 * shipped: excluded from the build).
 */

export interface UnmigratedDatabase {
  name: DialectName;
  /** for `describe`: the reason to skip, if any */
  options: { skip?: string };
  /** an empty database, no migration applied; PostgreSQL on a fresh schema that `drop` removes */
  open: () => Promise<{ database: MetadataDatabase; schema?: string; drop: () => Promise<void> }>;
}

/** SQLite in memory, and PostgreSQL when it answers: empty, for a test to migrate as it needs. */
export async function unmigratedDatabases(): Promise<UnmigratedDatabase[]> {
  return [
    { name: 'sqlite', options: {}, open: async () => ({ database: await openSqlite({ path: ':memory:', migrate: false }), drop: async () => {} }) },
    {
      name: 'postgres',
      options: await skipUnlessPostgres(),
      open: async () => {
        const schema = freshSchemaName('m');
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`create schema "${schema}"`);
        await client.end();
        const database = await openPostgres({ url: POSTGRES_TEST_URL, schema, poolSize: 2, migrate: false });
        return { database, schema, drop: async () => void (await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db)) };
      },
    },
  ];
}

/** Applies the migrations `chosen` keeps, as the version that shipped only those did. */
export async function migrateOnly(db: Kysely<any>, dialect: DialectName, chosen: (migrations: readonly Migration[]) => readonly Migration[], schema?: string): Promise<void> {
  const types = columnTypes(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      return Object.fromEntries(chosen(MIGRATIONS).map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    },
  };
  const { error } = await new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) }).migrateToLatest();
  if (error) throw error;
}
