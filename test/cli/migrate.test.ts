import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import pg from 'pg';
import { columnTypes } from '../../src/metadata/dialect.js';
import { MIGRATIONS } from '../../src/metadata/migrations/index.js';
import { POSTGRES_TEST_URL, freshSchemaName, skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { runPier, withData } from '../support/cli.js';

const names = MIGRATIONS.map((m) => m.name);

/** A SQLite database of an older Pier: only the first `count` migrations applied. */
async function olderSqlite(path: string, count: number): Promise<void> {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(path) }) });
  try {
    const types = columnTypes('sqlite');
    const migrations = Object.fromEntries(MIGRATIONS.slice(0, count).map((m) => [m.name, { up: (k: Kysely<any>) => m.up(k, types) }]));
    const { error } = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).migrateToLatest();
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

describe('pier migrate on SQLite', () => {
  let parent: string;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'pier-migrate-'));
  });
  after(() => rm(parent, { recursive: true, force: true }));

  it('applies what an older database lacks, names it, then has nothing to do', async () => {
    assert.ok(names.length >= 2, 'this test needs two migrations');
    const data = join(parent, 'older');
    await mkdir(data);
    await olderSqlite(join(data, 'pier.db'), 1);

    const first = await runPier(['migrate', '--data', data]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stdout,
      [`database  ${join(data, 'pier.db')}`, ...names.slice(1).map((n) => `applied   ${n}`), `the schema is current (${names.length} migrations)`, ''].join('\n'),
    );

    const second = await runPier(['migrate', '--data', data]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`^nothing to apply: the schema is current \\(${names.length} migrations\\)$`, 'm'));
    assert.doesNotMatch(second.stdout, /applied/);
    // the migrated database serves: the accounts of the second migration are there
    assert.equal(await withData(data, (core) => core.hub.accounts.count()), 0);
  });

  it('refuses a data directory without a database, creating nothing', async () => {
    const data = join(parent, 'empty');
    const result = await runPier(['migrate', '--data', data]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no Pier database in .*empty.*--data or PIER_DATA/);
    assert.ok(!(await readdir(parent)).includes('empty'), 'no data directory was created');
  });

  it('refuses a database migrated by a newer Pier', async () => {
    const data = join(parent, 'newer');
    await mkdir(data);
    await olderSqlite(join(data, 'pier.db'), names.length);
    const sqlite = new SQLite(join(data, 'pier.db'));
    sqlite.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('999-from-the-future', new Date().toISOString());
    sqlite.close();
    const result = await runPier(['migrate', '--data', data]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /migrated by a newer version of Pier \(999-from-the-future unknown to this one\)/);
  });
});

describe('pier migrate on PostgreSQL', await skipUnlessPostgres(), () => {
  const schema = freshSchemaName('migrate');
  const url = new URL(POSTGRES_TEST_URL);
  url.searchParams.set('schema', schema);

  after(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    try {
      await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`);
    } finally {
      await client.end();
    }
  });

  it('creates the schema, applies every migration, and is idempotent', async () => {
    const env = { PIER_DATABASE_URL: url.toString() };
    const first = await runPier(['migrate'], { env });
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^database  postgres(ql)?://[^:@/]*@?[^/]+/[^?]+\\?schema=${schema}$`));
    assert.deepEqual(lines.slice(1, -1), names.map((n) => `applied   ${n}`));
    assert.equal(lines.at(-1), `the schema is current (${names.length} migrations)`);

    const second = await runPier(['migrate'], { env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing to apply: the schema is current/);

    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    try {
      const rows = await client.query(`select name from ${client.escapeIdentifier(schema)}.kysely_migration order by name`);
      assert.deepEqual(rows.rows.map((r: { name: string }) => r.name), names);
    } finally {
      await client.end();
    }
  });
});
