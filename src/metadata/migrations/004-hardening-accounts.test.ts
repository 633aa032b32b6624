// Migration 004 on an installation migrated by the previous version: organisations on the default
// plan are billed to their first owner (as new ones are to their creator), the others to themselves.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Kysely, Migrator, sql, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { openPostgres, openSqlite, type MetadataDatabase } from '../database.js';
import { columnTypes, type DialectName } from '../dialect.js';
import { freshSchemaName, POSTGRES_TEST_URL, skipUnlessPostgres } from '../postgres.testing.js';
import { MIGRATIONS } from './index.js';

async function migrateTo(db: Kysely<any>, dialect: DialectName, last: string, schema?: string): Promise<void> {
  const types = columnTypes(dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      const upTo = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === last) + 1);
      return Object.fromEntries(upTo.map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    },
  };
  const { error } = await new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) }).migrateToLatest();
  if (error) throw error;
}

const databases: Array<{ name: DialectName; options: { skip?: string }; open: () => Promise<{ database: MetadataDatabase; schema?: string; drop: () => Promise<void> }> }> = [
  {
    name: 'sqlite',
    options: {},
    open: async () => {
      const database = await openSqlite({ path: ':memory:', migrate: false });
      return { database, drop: async () => {} };
    },
  },
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
  describe(`migration 004-hardening-accounts: ${name}`, options, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('bills the organisations on the default plan to their first owner, and the others to themselves', async () => {
      const { database, schema, drop } = await open();
      cleanups.push(async () => {
        await drop();
        await database.close();
      });
      const db = database.db as unknown as Kysely<any>;
      await migrateTo(db, name, '003-organizations-plans', schema);
      const account = (row: Record<string, unknown>) => ({ email: null, password_hash: null, is_admin: 0, default_private: 0, created_at: 1, password_changed_at: 1, deleted_at: null, kind: 'user', plan: 'free', ...row });
      await db
        .insertInto('accounts')
        .values([
          account({ name: 'olive', password_hash: 'x' }),
          account({ name: 'mark', password_hash: 'x' }),
          account({ name: 'acme', kind: 'organization' }),
          account({ name: 'globex', kind: 'organization', plan: 'team' }),
          account({ name: 'gone', kind: 'organization', deleted_at: 5 }),
          account({ name: 'library', kind: 'organization' }),
        ])
        .execute();
      await db
        .insertInto('organization_members')
        .values([
          { organization: 'acme', account: 'mark', role: 'member', created_at: 1 },
          { organization: 'acme', account: 'olive', role: 'owner', created_at: 2 },
          { organization: 'acme', account: 'zed', role: 'owner', created_at: 3 },
          { organization: 'globex', account: 'mark', role: 'owner', created_at: 1 },
          { organization: 'library', account: 'mark', role: 'member', created_at: 1 },
        ])
        .execute();

      await migrateTo(db, name, '004-hardening-accounts', schema);
      const rows = await db.selectFrom('accounts').select(['name', 'billed_to']).orderBy('name').execute();
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.billed_to])), {
        acme: 'olive',
        globex: null,
        gone: null,
        library: null,
        mark: null,
        olive: null,
      });
    });
  });
}
