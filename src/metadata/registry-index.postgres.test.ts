import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, openPostgres } from './database.js';
import { MIGRATIONS } from './migrations/index.js';
import { freshSchemaName, openTestPostgres, POSTGRES_TEST_URL, skipUnlessPostgres } from './postgres.testing.js';
import { registryIndexSuite } from './registry-index.suite.js';

const options = await skipUnlessPostgres();

describe('postgres', options, () => {
  registryIndexSuite('postgres', () => openTestPostgres());

  describe('PostgreSQL adapter', () => {
    it('replicas starting together on a fresh schema all start, and migrate once', async () => {
      const schema = freshSchemaName('mig');
      const opened = await Promise.allSettled([0, 1, 2].map(() => openPostgres({ url: POSTGRES_TEST_URL, schema, poolSize: 2 })));
      const databases = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      try {
        assert.deepEqual(opened.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')), ['ok', 'ok', 'ok']);
        const db = databases[0]!.db;
        const { rows } = await sql<{ name: string }>`select name from ${sql.id(schema, 'kysely_migration')} order by name`.execute(db);
        assert.deepEqual(rows.map((r) => r.name), MIGRATIONS.map((m) => m.name));
        // Every replica sees the same tables, through its own search_path.
        for (const database of databases) {
          assert.equal((await database.db.selectFrom('manifests').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 0);
        }
      } finally {
        if (databases[0]) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(databases[0].db);
        await Promise.all(databases.map((d) => d.close()));
      }
    });

    it('reads int8 as numbers and bytea as Buffers, and orders text by bytes', async () => {
      const database = await openTestPostgres();
      try {
        const { rows } = await sql<{ big: unknown; bytes: unknown }>`select ${2 ** 53 - 1}::int8 as big, '\\x00ff'::bytea as bytes`.execute(database.db);
        assert.equal(rows[0]!.big, 2 ** 53 - 1);
        assert.deepEqual(rows[0]!.bytes, Buffer.from([0, 255]));
        await database.db
          .insertInto('repositories')
          .values(['b', 'a', 'B', '_x', 'a-b', 'a.b', 'é'].map((name) => ({ name, created_at: 1 })))
          .execute();
        const names = (await database.db.selectFrom('repositories').select('name').orderBy('name').execute()).map((r) => r.name);
        assert.deepEqual(names, ['B', '_x', 'a', 'a-b', 'a.b', 'b', 'é']);
      } finally {
        await database.close();
      }
    });

    it('openDatabase picks PostgreSQL for postgres:// URLs, with ?schema=', async () => {
      const schema = freshSchemaName('url');
      const database = await openDatabase(`${POSTGRES_TEST_URL}?schema=${schema}`, '/nonexistent');
      try {
        assert.equal(database.dialect, 'postgres');
        const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(database.db);
        assert.equal(rows[0]!.s, schema);
      } finally {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db);
        await database.close();
      }
    });
  });
});

describe('openDatabase', () => {
  it('rejects other URLs and bad schema names; an unreachable server fails clearly', async () => {
    await assert.rejects(openDatabase('mysql://x@127.0.0.1/db', '/nonexistent'), /postgres:\/\//);
    await assert.rejects(openPostgres({ url: POSTGRES_TEST_URL, schema: 'Bad"name' }), /invalid PostgreSQL schema name/);
    await assert.rejects(openPostgres({ url: 'postgres://nobody:secret@127.0.0.1:1/db' }), (e: Error) => /PostgreSQL at 127\.0\.0\.1:1\/db/.test(e.message) && !e.message.includes('secret'));
  });
});
