import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { dropTestSchema, freshSchemaName, postgresTestUrl, skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { loadConfig, type Config } from '../../src/server/config.js';
import { startServer, type PierServer, type StartOptions } from '../../src/server/server.js';

/** Where a test server keeps its index and hub: SQLite in its data directory, or PostgreSQL. */
export type TestBackend = 'sqlite' | 'postgres';

export interface TestServerOptions extends StartOptions {
  /** 'sqlite' (the default): pier.db in the data directory; 'postgres': a fresh schema, dropped by stop() */
  backend?: TestBackend;
  /** a data directory of the caller's, left in place by stop() (a restart over the same files) */
  dataDir?: string;
  /**
   * Runs over another server's data directory and database (its schema on PostgreSQL): replicas
   * side by side, or a restart once that one closed. stop() leaves them to that server's stop().
   */
  sharing?: TestServer;
}

export interface TestServer extends PierServer {
  dataDir: string;
  backend: TestBackend;
  /** the `database.url` of a PostgreSQL backend (undefined: SQLite in dataDir) */
  databaseUrl?: string;
  /** stops the server and removes what it created: its data directory and its schema */
  stop(): Promise<void>;
}

/**
 * The backends an HTTP test file runs on, each with the options for its `describe`: PostgreSQL is
 * skipped with the reason when it does not answer, except under CI=true, where it fails.
 *
 *     for (const { backend, options } of await testBackends()) {
 *       describe(`pulls (${backend})`, options, () => { ... startTestServer({}, { backend }) ... });
 *     }
 */
export async function testBackends(): Promise<Array<{ backend: TestBackend; options: { skip?: string } }>> {
  return [
    { backend: 'sqlite', options: {} },
    { backend: 'postgres', options: await skipUnlessPostgres() },
  ];
}

/**
 * An in-process Pier on 127.0.0.1:<random port> over a fresh data directory (SQLite + filesystem,
 * or PostgreSQL + filesystem with `backend: 'postgres'`). `overrides` are config keys
 * (`uploads.ttl`, `auth.mode`, ...), as a config file would set them.
 */
export async function startTestServer(overrides: Record<string, unknown> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const { backend: wanted, dataDir: givenDir, sharing, ...startOptions } = options;
  const backend = sharing?.backend ?? wanted ?? 'sqlite';
  const dataDir = sharing?.dataDir ?? givenDir ?? (await mkdtemp(join(tmpdir(), 'pier-test-')));
  // what this server created, and so removes when it stops
  const ownDir = !sharing && !givenDir;
  const schema = !sharing && backend === 'postgres' ? freshSchemaName('srv') : undefined;
  const databaseUrl = sharing ? sharing.databaseUrl : schema && postgresTestUrl(schema);
  const removeOwn = async () => {
    if (schema) await dropTestSchema(schema);
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
  };
  let server: PierServer;
  try {
    const config: Config = loadConfig({
      env: {},
      // the registry's own tests run open; auth tests set 'auth.mode': 'token'
      overrides: {
        listen: '127.0.0.1:0',
        data: dataDir,
        'storage.fsync': false,
        'auth.mode': 'open',
        // collections run when a test asks (a scheduled one would race with a test's clock jumps)
        'gc.schedule': 'off',
        'retention.schedule': 'off',
        ...(databaseUrl ? { 'database.url': databaseUrl } : {}),
        ...overrides,
      },
    });
    // every answer of /api/v1 is checked against the OpenAPI document: a test that passes proves it describes the server
    server = await startServer(config, { logger: pino({ level: process.env.PIER_TEST_LOG ?? 'silent' }), checkApiResponses: true, ...startOptions });
  } catch (error) {
    await removeOwn().catch(() => {});
    throw error;
  }
  return {
    ...server,
    dataDir,
    backend,
    databaseUrl,
    async stop() {
      await server.close();
      await removeOwn();
    },
  };
}
