import { Hub } from '../hub/hub.js';
import { openDatabase, type MetadataDatabase } from '../metadata/database.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { systemClock, type Clock } from '../registry/ports.js';
import { Registry } from '../registry/registry.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openStore } from '../storage/open-store.js';
import type { Config } from './config.js';

/** Pier without HTTP: the database, the blob store, the registry and the hub over one data directory. */
export interface PierCore {
  database: MetadataDatabase;
  store: BlobStore;
  registry: Registry;
  hub: Hub;
  clock: Clock;
  close(): Promise<void>;
}

export interface CoreOptions {
  clock?: Clock;
  /** replaces the filesystem store (tests run the memory store through here) */
  store?: BlobStore;
}

/** Used by the server and by CLI commands that work on the data directory of a stopped or running server. */
export async function openCore(config: Config, options: CoreOptions = {}): Promise<PierCore> {
  const clock = options.clock ?? systemClock;
  const database = await openDatabase(config.database.url, config.data);
  const store = options.store ?? (await openStore({ url: config.storage.url, fsync: config.storage.fsync, dataDir: config.data }));
  const hub = new Hub(database.db, clock);
  const registry = new Registry({
    index: new RegistryIndex(database.db),
    store,
    clock,
    gate: hub.pushGate,
    uploadTtlMs: config.uploads.ttl,
    manifestMaxBytes: config.manifests.maxBytes,
  });
  return {
    database,
    store,
    registry,
    hub,
    clock,
    async close() {
      await store.close?.();
      await database.close();
    },
  };
}
