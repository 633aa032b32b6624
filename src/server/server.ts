import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp } from '../http/app.js';
import { openSqlite, type MetadataDatabase } from '../metadata/database.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { systemClock, type Clock } from '../registry/ports.js';
import { Registry } from '../registry/registry.js';
import type { BlobStore } from '../storage/blob-store.js';
import { createFsStore } from '../storage/fs-store.js';
import { parseListen, type Config } from './config.js';

export interface PierServer {
  app: FastifyInstance;
  registry: Registry;
  database: MetadataDatabase;
  store: BlobStore;
  logger: Logger;
  /** the address it listens on, e.g. http://127.0.0.1:5000 */
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  /** replaces the filesystem store (tests run the memory store through here) */
  store?: BlobStore;
}

/** The composition root: wires config into the database, the store, the registry and HTTP. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<PierServer> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  const database = await openSqlite({ path: join(config.data, 'pier.db') });
  const store = options.store ?? createFsStore({ root: join(config.data, 'storage'), fsync: config.storage.fsync });
  const registry = new Registry({
    index: new RegistryIndex(database.db),
    store,
    clock,
    uploadTtlMs: config.uploads.ttl,
    manifestMaxBytes: config.manifests.maxBytes,
  });
  const app = buildApp({ registry, logger });

  const sweep = () =>
    registry.uploads.sweepExpired().then(
      (removed) => removed > 0 && logger.info({ removed }, 'removed expired upload sessions'),
      (error) => logger.error({ err: error }, 'upload sweep failed'),
    );
  const sweeper = setInterval(sweep, config.uploads.sweepInterval);
  sweeper.unref();

  const { host, port } = parseListen(config.listen)!;
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  logger.info({ url, data: config.data }, 'pier is listening');
  void sweep();

  let closing: Promise<void> | undefined;
  return {
    app,
    registry,
    database,
    store,
    logger,
    url,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await app.close();
        await store.close?.();
        await database.close();
      })();
      return closing;
    },
  };
}
