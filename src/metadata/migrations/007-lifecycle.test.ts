// Migration 007 on an installation that the previous version migrated, with 009 already applied:
// migrations numbered below the last one applied run (a release that adds 007 after one that
// shipped 009), and the registry's rows stay as they were.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Kysely, Migrator, sql, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { migrate, openPostgres, openSqlite, type MetadataDatabase } from '../database.js';
import { columnTypes, type DialectName } from '../dialect.js';
import { freshSchemaName, POSTGRES_TEST_URL, skipUnlessPostgres } from '../postgres.testing.js';
import { MIGRATIONS } from './index.js';

/** What the previous version applied: every migration but 007. */
async function migrateWithout(db: Kysely<any>, dialect: DialectName, skipped: string, schema?: string): Promise<void> {
  const types = columnTypes(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      return Object.fromEntries(MIGRATIONS.filter((m) => m.name !== skipped).map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    },
  };
  const { error } = await new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) }).migrateToLatest();
  if (error) throw error;
}

const databases: Array<{ name: DialectName; options: { skip?: string }; open: () => Promise<{ database: MetadataDatabase; schema?: string; drop: () => Promise<void> }> }> = [
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

for (const { name, options, open } of databases) {
  describe(`migration 007-lifecycle: ${name}`, options, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('runs after 009 on an installation that has it, and keeps the blobs as they were', async () => {
      const { database, schema, drop } = await open();
      cleanups.push(async () => {
        await drop();
        await database.close();
      });
      const db = database.db as unknown as Kysely<any>;
      await migrateWithout(db, name, '007-lifecycle', schema);
      await db.insertInto('blobs').values({ digest: 'sha256:aa', size: 3, created_at: 1 }).execute();
      await migrate(database.db, name, schema);
      assert.deepEqual(await db.selectFrom('blobs').select(['digest', 'deleting_at']).execute(), [{ digest: 'sha256:aa', deleting_at: null }]);
      assert.deepEqual(await db.selectFrom('gc_runs').selectAll().execute(), []);
    });
  });
}
