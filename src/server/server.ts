import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadInstallationSecret } from '../auth/installation-secret.js';
import { sqlSigningKeyStore } from '../auth/signing-key-store.js';
import { KeyRing } from '../auth/signing-keys.js';
import type { Hub } from '../hub/hub.js';
import type { ReplicationService } from '../hub/replication/replication.js';
import type { WebhookService } from '../hub/webhooks/webhooks.js';
import { buildApp } from '../http/app.js';
import { PierMetrics } from '../http/metrics.js';
import type { ProxyObserver } from '../registry/proxy/ports.js';
import { DEFAULT_UI_DIR } from '../http/ui.js';
import type { TokenAuth } from '../http/token-auth.js';
import type { MetadataDatabase } from '../metadata/database.js';
import type { Registry } from '../registry/registry.js';
import type { SharedState } from '../shared-state/shared-state.js';
import { StorageUnavailable, type BlobStore } from '../storage/blob-store.js';
import { parseListen, type Config } from './config.js';
import { openCore, type CoreOptions } from './core.js';
import { createLogger } from './log-format.js';
import { createReadiness, databaseCheck, storageCheck } from './readiness.js';
import { GcSchedule } from '../registry/gc/schedule.js';
import { RetentionSchedule } from '../hub/retention/schedule.js';
import { startupStep } from './startup-problems.js';
import { describeCertificate, loadTls, secureContextOptions, validityProblem } from './tls.js';

export interface PierServer {
  app: FastifyInstance;
  registry: Registry;
  hub: Hub;
  database: MetadataDatabase;
  store: BlobStore;
  logger: Logger;
  /** token auth, unless the server runs open */
  auth?: TokenAuth;
  /** login throttle, counters and manifest cache: in Redis when configured */
  shared: SharedState;
  /** the address it listens on, e.g. http://127.0.0.1:5000 (https:// with built-in TLS) */
  url: string;
  /** replication rules and runs, and the worker that runs them */
  replication: ReplicationService;
  webhooks: WebhookService;
  close(): Promise<void>;
}

export interface StartOptions extends CoreOptions {
  logger?: Logger;
  /** tests: every /api/v1 answer is checked against the OpenAPI document */
  checkApiResponses?: boolean;
}

/**
 * The composition root: wires config into the database, the store, the registry, the hub and HTTP.
 * A user's mistake (a setting, a secret file, a service that does not answer, a port in use) stops
 * the start with a StartupProblem that says what to do; whatever was opened by then is closed
 * again, so a failed start leaves no pool, timer or socket behind.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<PierServer> {
  const logger = options.logger ?? createLogger(config.logLevel, config.logFormat);
  // before anything is opened: a certificate or secret problem stops the start with nothing to undo
  const tls = await loadTls(config.tls);
  if (tls) {
    const problem = validityProblem(tls.certificate);
    if (problem) logger.warn({ cert: tls.certFile }, `${problem}: clients will refuse it`);
  }
  const secret =
    config.auth.mode === 'token' ? await startupStep('secret', config, () => loadInstallationSecret({ file: config.auth.secretKeyFile, dataDir: config.data })) : undefined;
  const metrics = config.metrics.enabled ? new PierMetrics({ outbox: () => outboxBacklog(core.database) }) : undefined;
  const core = await openCore(config, {
    ...options,
    logger,
    ...(metrics ? { webhookObserver: metrics.webhookObserver, proxyObserver: (inner: ProxyObserver) => metrics.proxyObserver(inner) } : {}),
  });
  const { registry, hub, database, store, clock } = core;
  const undo: Array<() => unknown> = [() => core.close()];
  try {
    await createFirstAdministrator(config, hub, logger);

    let auth: TokenAuth | undefined;
    if (secret) {
      const keyRing = await startupStep('keys', config, () => KeyRing.open({ store: sqlSigningKeyStore(database.db), secret, now: () => clock.now() }));
      auth = {
        hub,
        policy: hub.policy,
        keyRing,
        realm: config.publicUrl ? `${config.publicUrl.replace(/\/+$/, '')}/token` : '',
        service: config.service,
        issuer: config.service,
        tokenTtlSeconds: Math.max(1, Math.round(config.auth.tokenTtl / 1000)),
        throttle: core.shared.loginThrottle({ failures: config.auth.loginFailures, windowMs: config.auth.loginWindow }),
        clock,
      };
    } else {
      logger.warn('PIER_AUTH=open: anyone can push and pull without an account; use it for local development only');
    }
    // a bucket that does not exist (or a store that does not answer) stops the start, rather than
    // failing every push later
    await startupStep('storage', config, async () => store.check?.());
    const checks = [databaseCheck(database), storageCheck(store)];
    if (core.shared.backend === 'redis') checks.push({ name: 'redis', check: () => core.shared.ping(), optional: true });
    const readiness = createReadiness(checks, { logger });
    const app = buildApp({
      registry,
      hub,
      logger,
      auth,
      clock,
      trustProxy: config.trustProxy,
      publicUrl: config.publicUrl,
      readiness,
      pullGate: core.pullGate,
      pullAllowances: core.pullGate,
      checkApiResponses: options.checkApiResponses,
      ui: { dir: DEFAULT_UI_DIR },
      replication: core.replication,
      webhooks: core.webhooks,
      ...(metrics ? { metrics: { series: metrics, ...(config.metrics.token !== undefined ? { token: config.metrics.token } : {}) } } : {}),
      timeouts: {
        headersMs: config.http.headersTimeout,
        requestMs: config.http.requestTimeout,
        body: { minRate: config.http.bodyMinRate, windowMs: config.http.bodyRateWindow, signInMs: config.http.signInBodyTimeout },
      },
      ...(tls ? { https: secureContextOptions(tls) } : {}),
    });
    undo.push(() => app.close());

    const sweep = () =>
      registry.uploads.sweepExpired().then(
        (removed) => removed > 0 && logger.info({ removed }, 'removed expired upload sessions'),
        (error) =>
          error instanceof StorageUnavailable
            ? logger.error({ storage: error.message }, `upload sweep failed: the storage is unavailable: ${error.message}`)
            : logger.error({ err: error }, 'upload sweep failed'),
      );
    // audit entries past their retention go with the upload sweep (each replica: the delete is idempotent)
    const pruneAudit = () =>
      hub.audit.prune(config.audit.retention).then(
        (removed) => removed > 0 && logger.info({ removed }, 'removed audit entries past their retention'),
        (error) => logger.error({ err: error }, 'could not prune the audit log'),
      );
    const sweeper = setInterval(() => void Promise.all([sweep(), pruneAudit()]), config.uploads.sweepInterval);
    sweeper.unref();
    undo.push(() => clearInterval(sweeper));
    // pull counts are written every second; outbox events are delivered as they are written, and
    // every second for those another replica wrote or a crash left behind
    hub.pullStats.start(1000, (error) => logger.error({ err: error }, 'could not write pull counts; kept for the next try'));
    hub.outbox.start(1000, (error, message) => logger.error({ err: error, event: message && { id: message.id, type: message.type } }, 'outbox delivery failed; it is retried'));
    undo.push(() => hub.outbox.stop());
    // garbage collection every gc.schedule, counted from the latest run of any replica
    const gcSchedule =
      registry.gc && config.gc.schedule !== 'off'
        ? new GcSchedule(registry.gc, clock, {
            intervalMs: config.gc.schedule,
            graceMs: config.gc.grace,
            untagged: config.gc.untagged,
            onReport: (report) => logger.info({ gc: report }, `garbage collection: ${report.blobs} blobs and ${report.manifests} manifests deleted, ${report.bytesFreed} bytes freed`),
            onError: (error) => logger.error({ err: error }, 'garbage collection failed; the next run finishes it'),
          })
        : undefined;
    gcSchedule?.start();
    undo.push(() => gcSchedule?.stop());
    // retention policies every retention.schedule, counted from the latest run of any replica
    const retentionSchedule =
      config.retention.schedule !== 'off'
        ? new RetentionSchedule(hub.retention, registry, clock, {
            intervalMs: config.retention.schedule,
            onReport: (report) => {
              const deleted = report.repositories.reduce((n, r) => n + r.deleted.length, 0);
              logger.info({ retention: { repositories: report.repositories.length, deleted, skipped: report.skipped } }, `retention: ${deleted} tags deleted in ${report.repositories.length} repositories`);
            },
            onError: (error) => logger.error({ err: error }, 'retention run failed; the next run continues it'),
          })
        : undefined;
    retentionSchedule?.start();
    undo.push(() => retentionSchedule?.stop());
    // replication runs (queued by pushes, schedules and requests) and due schedules, every 2 s
    core.replication.start(2000);
    undo.push(() => core.replication.stop());
    // webhook deliveries (queued from the outbox): at once when queued here, every second for the rest
    core.webhooks.start(1000);
    undo.push(() => core.webhooks.stop());
    await warnAboutMirror(config, hub, logger);

    const { host, port } = parseListen(config.listen)!;
    await startupStep('listen', config, () => app.listen({ host, port }));
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    if (auth && !auth.realm) {
      auth.realm = `${url}/token`;
      if (host === '0.0.0.0' || host === '::') {
        logger.warn({ realm: auth.realm }, 'PIER_PUBLIC_URL is not set: clients on other machines cannot reach this token realm; set it to the URL they use');
      }
    }
    if (!config.publicUrl) core.webhooks.baseUrl = url;
    if (tls) logger.info({ cert: tls.certFile, certificate: describeCertificate(tls.certificate) }, 'serving HTTPS');
    logger.info({ url, data: config.data, auth: config.auth.mode }, 'pier is listening');
    void sweep();
    void pruneAudit();
    // manifests pushed before this version kept what their pages show: computed once, in the background
    const backfill = new AbortController();
    const backfilled = registry.manifests.backfillDetails({ signal: backfill.signal }).then(
      (described) => described > 0 && logger.info({ manifests: described }, 'computed the details of manifests pushed before this version'),
      (error) => logger.error({ err: error }, 'could not compute the details of older manifests; they show without platforms until the next start'),
    );

    let closing: Promise<void> | undefined;
    return {
      app,
      registry,
      hub,
      database,
      store,
      logger,
      auth,
      shared: core.shared,
      url,
      replication: core.replication,
      webhooks: core.webhooks,
      close() {
        closing ??= (async () => {
          clearInterval(sweeper);
          backfill.abort();
          await app.close();
          await gcSchedule?.stop();
          await retentionSchedule?.stop();
          await backfilled;
          await hub.outbox.stop();
          await core.replication.stop();
          await core.webhooks.stop();
          await core.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    // the latest first: the app before the core it uses
    for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => {});
    throw error;
  }
}

/** Outbox rows not delivered yet and the age of the oldest (pending, or claimed and not done), for /metrics. */
async function outboxBacklog(database: MetadataDatabase): Promise<{ pending: number; lagSeconds: number }> {
  const row = await database.db
    .selectFrom('outbox')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('created_at').as('oldest')])
    .where((eb) => eb.or([eb('delivered_at', 'is', null), eb('delivered_at', '<', 0)]))
    .executeTakeFirst();
  const oldest = row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest);
  return { pending: Number(row?.n ?? 0), lagSeconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000) };
}

/** mirror.namespace names a proxy that does not exist (yet): said once, reads are not proxied until it does. */
async function warnAboutMirror(config: Config, hub: Hub, logger: Logger): Promise<void> {
  const namespace = config.mirror.namespace;
  if (namespace === undefined || (await hub.proxies.get(namespace))) return;
  logger.warn({ namespace }, `mirror.namespace is ${namespace}, which is not a proxy namespace: add it (pier proxy add ${namespace} URL) for Pier to serve as a registry mirror`);
}

/** PIER_ADMIN_USER + PIER_ADMIN_PASSWORD create the first administrator of an empty installation. */
async function createFirstAdministrator(config: Config, hub: Hub, logger: Logger): Promise<void> {
  const { user, password } = config.admin;
  if (!user || !password) {
    if ((await hub.accounts.count()) === 0 && config.auth.mode === 'token') {
      logger.warn('no account exists yet: create the first administrator with `pier user create NAME --admin --password-stdin`');
    }
    return;
  }
  if ((await hub.accounts.count()) > 0) return;
  await hub.accounts.create({ name: user, password, admin: true });
  logger.info({ user }, 'created the first administrator');
}
