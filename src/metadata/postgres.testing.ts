import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { openPostgres, openSqlite, type MetadataDatabase } from './database.js';

/**
 * Test support for the PostgreSQL adapter (not shipped: excluded from the build). Tests use the
 * server of DEVELOPERS.md, or PIER_TEST_DATABASE_URL. Without one, the PostgreSQL tests are
 * skipped with the reason; under CI=true they run, and fail.
 */
export const POSTGRES_TEST_URL = process.env.PIER_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

const inCi = process.env.CI === 'true' || process.env.CI === '1';

let reachable: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL answers, else why not. */
export function postgresProblem(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (error) {
      return `PostgreSQL is not reachable at ${POSTGRES_TEST_URL.replace(/:[^:@/]*@/, '@')} (${(error as Error).message}); set PIER_TEST_DATABASE_URL or start it`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/** Options for `describe`: skip with the reason when PostgreSQL does not answer, unless in CI. */
export async function skipUnlessPostgres(): Promise<{ skip?: string }> {
  const problem = await postgresProblem();
  return problem && !inCi ? { skip: problem } : {};
}

/** A fresh schema of its own (`<prefix>_<random>`); close() drops it. */
export function freshSchemaName(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** The test server's URL for `schema` (what `database.url` and PIER_DATABASE_URL take). */
export function postgresTestUrl(schema: string): string {
  return `${POSTGRES_TEST_URL}${POSTGRES_TEST_URL.includes('?') ? '&' : '?'}schema=${schema}`;
}

/** Drops a test's schema with everything in it (a server that used it has closed its pool). */
export async function dropTestSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`);
  } finally {
    await client.end();
  }
}

/** Opens PostgreSQL on `schema`; close() drops the schema with everything in it when `drop` is set. */
export async function openTestPostgres(schema = freshSchemaName(), drop = true): Promise<MetadataDatabase> {
  const database = await openPostgres({ url: POSTGRES_TEST_URL, schema, poolSize: 4 });
  return {
    ...database,
    async close() {
      try {
        if (drop) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(database.db);
      } finally {
        await database.close();
      }
    },
  };
}

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** a new, empty, migrated database */
  open: () => Promise<MetadataDatabase>;
  /** for `describe`: the reason to skip, if any */
  options: { skip?: string };
}

/** Every metadata database a store's tests run on: SQLite in memory, and PostgreSQL when it answers. */
export async function testDatabases(): Promise<TestDatabase[]> {
  return [
    { name: 'sqlite', open: () => openSqlite({ path: ':memory:' }), options: {} },
    { name: 'postgres', open: () => openTestPostgres(), options: await skipUnlessPostgres() },
  ];
}
