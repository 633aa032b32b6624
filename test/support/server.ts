import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/server/config.js';
import { startServer, type PierServer, type StartOptions } from '../../src/server/server.js';

export interface TestServer extends PierServer {
  dataDir: string;
  /** stops the server and removes its data directory */
  stop(): Promise<void>;
}

/**
 * An in-process Pier on 127.0.0.1:<random port> over a fresh data directory (SQLite + filesystem).
 * `overrides` are config keys (`uploads.ttl`, `auth.mode`, ...), as a config file would set them.
 */
export async function startTestServer(
  overrides: Record<string, unknown> = {},
  options: StartOptions & { dataDir?: string } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'pier-test-')));
  const config: Config = loadConfig({
    env: {},
    // the registry's own tests run open; auth tests set 'auth.mode': 'token'
    overrides: { listen: '127.0.0.1:0', data: dataDir, 'storage.fsync': false, 'auth.mode': 'open', ...overrides },
  });
  // every answer of /api/v1 is checked against the OpenAPI document: a test that passes proves it describes the server
  const server = await startServer(config, { logger: pino({ level: process.env.PIER_TEST_LOG ?? 'silent' }), checkApiResponses: true, ...options });
  return {
    ...server,
    dataDir,
    async stop() {
      await server.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
