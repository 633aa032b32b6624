import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadInstallationSecret } from '../auth/installation-secret.js';
import { lazySecretBox, type SecretBox } from '../auth/sealed-secret.js';
import { Hub } from '../hub/hub.js';
import { PullLimits } from '../hub/pull-limits.js';
import { ReplicationService } from '../hub/replication/replication.js';
import { WebhookService, type WebhookObserver } from '../hub/webhooks/webhooks.js';
import { openDatabase, type MetadataDatabase } from '../metadata/database.js';
import { GcIndex } from '../metadata/gc-index.js';
import { ProxyIndex } from '../metadata/proxy-index.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { systemClock, type Clock, type PullGate, type RegistryEvents } from '../registry/ports.js';
import type { ProxyObserver } from '../registry/proxy/ports.js';
import { Registry } from '../registry/registry.js';
import { openSharedState, type SharedState } from '../shared-state/shared-state.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openStore } from '../storage/open-store.js';
import type { Config } from './config.js';
import { secureDataDirectory } from './data-directory.js';
import { startupStep } from './startup-problems.js';

/** Pier without HTTP: the database, the blob store, the registry and the hub over one data directory. */
export interface PierCore {
  database: MetadataDatabase;
  store: BlobStore;
  registry: Registry;
  hub: Hub;
  clock: Clock;
  /** what replicas share quickly: login throttle, counters, manifest cache (Redis, or in process) */
  shared: SharedState;
  /** pull rate limits (counters in shared state), asked by /v2 on every manifest GET and HEAD */
  pullGate: PullLimits;
  /** seals and opens credentials of other registries with the installation secret (read on first use) */
  secrets: () => Promise<SecretBox>;
  /** replication rules and runs (the server starts its worker) */
  replication: ReplicationService;
  /** webhooks and their delivery queue (the server starts its worker) */
  webhooks: WebhookService;
  close(): Promise<void>;
}

export interface CoreOptions {
  clock?: Clock;
  /** replaces the filesystem store (tests run the memory store through here) */
  store?: BlobStore;
  /** where the shared state logs Redis going away and coming back (default: stderr at the configured level) */
  logger?: Logger;
  /** hears of webhook deliveries (metrics) */
  webhookObserver?: WebhookObserver;
  /** wraps the pull-through cache's observer (metrics) */
  proxyObserver?: (inner: ProxyObserver) => ProxyObserver;
}

/** Used by the server and by CLI commands that work on the data directory of a stopped or running server. */
export async function openCore(config: Config, options: CoreOptions = {}): Promise<PierCore> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel }, pino.destination({ dest: 2, sync: true }));
  // before anything is written there: private folders, and an older installation's tightened
  await startupStep('data', config, () => secureDataDirectory(config, logger));
  const database = await startupStep('database', config, () => openDatabase(config.database.url, config.data));
  let store: BlobStore | undefined;
  let shared: SharedState;
  try {
    store = options.store ?? (await startupStep('storage', config, () => openStore({ url: config.storage.url, fsync: config.storage.fsync, dataDir: config.data })));
    shared = await openSharedState({ redis: config.redis, clock, logger, databaseChanges: otherWriters(database) });
  } catch (error) {
    // what was opened is closed: a failed start leaves nothing running (no pool, no socket)
    await Promise.allSettled([database.close(), store?.close?.()]);
    throw error;
  }
  // read (or made) only when a credential of another registry is sealed or opened
  const secrets = lazySecretBox(() => loadInstallationSecret({ file: config.auth.secretKeyFile, dataDir: config.data }));
  const hub = new Hub(database.db, clock, { secrets, mirrorNamespace: config.mirror.namespace, databaseChanges: database.dataVersion });
  const events: RegistryEvents = {
    emit(event) {
      hub.pullStats.emit(event);
      // the outbox row was written with the change: a running dispatcher delivers it now
      if (event.type === 'manifest.pushed' || event.type === 'manifest.deleted' || event.type === 'tag.deleted') hub.outbox.notify();
    },
  };
  const pullGate = new PullLimits({ counters: shared.counters, settings: hub.settings, plans: hub.plans });
  const registry = new Registry({
    index: new RegistryIndex(database.db, { changes: database.changes }),
    store,
    clock,
    gate: hub.pushGate,
    events,
    uploadTtlMs: config.uploads.ttl,
    maxOpenUploads: config.uploads.maxOpenSessions,
    manifestMaxBytes: config.manifests.maxBytes,
    manifestCache: shared.manifestCache,
    // blobs being fetched from upstreams are spooled beside the data, for the clients that wait for them
    proxies: { directory: hub.proxies, index: new ProxyIndex(database.db), observer: options.proxyObserver ? options.proxyObserver(proxyLog(logger)) : proxyLog(logger), spoolDir: join(config.data, 'proxy-spool') },
    gcIndex: new GcIndex(database.db),
    gc: { proxyIdleMs: config.gc.proxyIdle, graceMs: config.gc.grace, leaseMs: config.gc.lease },
  });
  const replication = new ReplicationService({
    db: database.db,
    clock,
    registry,
    secrets,
    retryDelayMs: config.replication.retryDelay,
    attempts: config.replication.attempts,
    log: logger,
  });
  // pushes that replication rules follow arrive as outbox events (delivered where the dispatcher runs: the server)
  hub.outbox.subscribe((message) => replication.onEvent(message));
  const webhooks = new WebhookService({
    db: database.db,
    clock,
    plans: hub.plans,
    secrets,
    allowNetworks: config.webhooks.allowNetworks,
    retryDelayMs: config.webhooks.retryDelay,
    retryForMs: config.webhooks.retryFor,
    timeoutMs: config.webhooks.timeout,
    disableAfter: config.webhooks.disableAfter,
    log: logger,
    ...(options.webhookObserver ? { observer: options.webhookObserver } : {}),
  });
  if (config.publicUrl) webhooks.baseUrl = config.publicUrl;
  // every event a hook may want is queued for its hooks before the outbox message counts as delivered
  hub.outbox.subscribe((message) => webhooks.onEvent(message));
  return {
    database,
    store,
    registry,
    hub,
    clock,
    shared,
    pullGate,
    secrets,
    replication,
    webhooks,
    async close() {
      await replication.stop();
      await webhooks.stop();
      // counted pulls are written before the database closes
      await hub.pullStats.close().catch((error: unknown) => logger.error({ err: error }, 'could not write pull counts'));
      // each closes whatever the others do: a store that fails to close must not leave Redis reconnecting
      const results = await Promise.allSettled([store.close?.(), database.close(), shared.close()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/**
 * SQLite's data_version: it changes when another connection (a CLI command, another process on
 * the same file) committed, not for this process's own writes. What lets a manifest cache in this
 * process see other writers at once. None for PostgreSQL (other replicas write unseen).
 */
function otherWriters(database: MetadataDatabase): (() => Promise<unknown>) | undefined {
  const { dataVersion } = database;
  return dataVersion && (async () => dataVersion());
}

/** What the pull-through cache reports, as log lines (a metrics module can wrap this observer). */
function proxyLog(logger: Logger): ProxyObserver {
  return {
    stale: (event) => logger.warn(event, 'served cached content that may be stale: the upstream registry could not be asked'),
    fetched: (event) => logger.debug(event, 'fetched from the upstream registry'),
    failed: (event) => logger.warn(event, 'fetch from the upstream registry failed'),
  };
}
