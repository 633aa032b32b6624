import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WebhookObserver } from '../hub/webhooks/webhooks.js';
import type { ProxyObserver } from '../registry/proxy/ports.js';
import { StorageUnavailable } from '../storage/blob-store.js';
import { refusalOf } from './refusals.js';

/** What the metrics read from the database when scraped. */
export interface MetricsSources {
  /** outbox rows not delivered yet, and the age of the oldest (seconds; 0 when none) */
  outbox?: () => Promise<{ pending: number; lagSeconds: number }>;
}

/** The kind of route a request went to: the label of the request series (never the path itself: unbounded). */
export function routeKind(method: string, url: string): string {
  const path = url.split('?', 1)[0] ?? '';
  if (path === '/v2' || path === '/v2/') return 'v2_base';
  if (path.startsWith('/v2/')) {
    if (/\/blobs\/uploads\/?/.test(path)) return 'v2_upload';
    if (/\/blobs\/sha\d+:/.test(path)) return 'v2_blob';
    if (/\/manifests\//.test(path)) return method === 'PUT' ? 'v2_manifest_push' : method === 'DELETE' ? 'v2_manifest_delete' : 'v2_manifest';
    if (path.endsWith('/tags/list')) return 'v2_tags';
    if (/\/referrers\//.test(path)) return 'v2_referrers';
    if (path === '/v2/_catalog') return 'v2_catalog';
    return 'v2_other';
  }
  if (path === '/token') return 'token';
  if (path.startsWith('/api/v1/')) return 'api';
  if (path === '/v1/search') return 'search';
  if (path === '/healthz' || path === '/readyz') return 'health';
  if (path === '/metrics') return 'metrics';
  return 'ui';
}

const SIGN_IN = new Set(['POST /api/v1/users/login', 'POST /api/v1/sessions']);

/**
 * Pier's Prometheus series, in a registry of its own (two servers in one process, as tests run,
 * do not mix): requests by route kind and status with their latency, bytes in and out, uploads in
 * flight, pulls, refusals by reason, failed sign-ins, the outbox's lag, webhook deliveries, the
 * pull-through cache, and backend errors by backend; plus Node's own (memory, event loop, GC).
 */
export class PierMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'kind' | 'method' | 'status'>;
  readonly #latency: Histogram<'kind' | 'method'>;
  readonly #bytesIn: Counter<'kind'>;
  readonly #bytesOut: Counter<'kind'>;
  readonly #uploads: Gauge;
  readonly #pulls: Counter;
  readonly #refusals: Counter<'reason' | 'kind'>;
  readonly #loginFailures: Counter<'endpoint'>;
  readonly #webhooks: Counter<'result'>;
  readonly #proxy: Counter<'result'>;
  readonly #backendErrors: Counter<'backend'>;

  constructor(sources: MetricsSources = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'pier_' });
    this.#requests = new Counter({ name: 'pier_http_requests_total', help: 'HTTP requests by route kind, method and status', labelNames: ['kind', 'method', 'status'], registers });
    this.#latency = new Histogram({
      name: 'pier_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (to the last byte), by route kind and method',
      labelNames: ['kind', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#bytesIn = new Counter({ name: 'pier_http_received_bytes_total', help: 'Bytes received (headers and bodies), by route kind', labelNames: ['kind'], registers });
    this.#bytesOut = new Counter({ name: 'pier_http_sent_bytes_total', help: 'Bytes sent (headers and bodies), by route kind', labelNames: ['kind'], registers });
    this.#uploads = new Gauge({ name: 'pier_uploads_in_flight', help: 'Upload requests (blob chunks and monolithic uploads) being received now', registers });
    this.#pulls = new Counter({ name: 'pier_pulls_total', help: 'Pulls: manifests served by GET', registers });
    this.#refusals = new Counter({
      name: 'pier_refusals_total',
      help: 'Requests refused, by reason: rate_limit (429), auth (401), permission (403: not allowed), plan (403: over a limit of the plan, or a feature it lacks)',
      labelNames: ['reason', 'kind'],
      registers,
    });
    this.#loginFailures = new Counter({ name: 'pier_login_failures_total', help: 'Failed sign-ins, by endpoint', labelNames: ['endpoint'], registers });
    this.#webhooks = new Counter({ name: 'pier_webhook_deliveries_total', help: 'Webhook delivery attempts by result (succeeded, retry, failed)', labelNames: ['result'], registers });
    this.#proxy = new Counter({ name: 'pier_proxy_fetches_total', help: 'Pull-through cache: upstream fetches (fetched, failed) and stale content served', labelNames: ['result'], registers });
    this.#backendErrors = new Counter({ name: 'pier_backend_errors_total', help: 'Requests that failed on a backend, by backend (storage, database, redis)', labelNames: ['backend'], registers });
    const outbox = sources.outbox;
    if (outbox) {
      let last: Promise<{ pending: number; lagSeconds: number }> | undefined;
      // one query per scrape for both gauges
      const read = () => (last ??= outbox().finally(() => setTimeout(() => (last = undefined), 100).unref()));
      new Gauge({
        name: 'pier_outbox_pending',
        help: 'Outbox events not delivered yet',
        registers,
        async collect() {
          this.set((await read()).pending);
        },
      });
      new Gauge({
        name: 'pier_outbox_lag_seconds',
        help: 'Age of the oldest outbox event not delivered yet (0 when none)',
        registers,
        async collect() {
          this.set((await read()).lagSeconds);
        },
      });
    }
  }

  /** Hears the webhook worker. */
  readonly webhookObserver: WebhookObserver = { attempted: (event) => this.#webhooks.inc({ result: event.result }) };

  /** Wraps the pull-through cache's observer (its log lines stay). */
  proxyObserver(inner: ProxyObserver): ProxyObserver {
    return {
      stale: (event) => {
        this.#proxy.inc({ result: 'stale' });
        inner.stale(event);
      },
      fetched: (event) => {
        this.#proxy.inc({ result: 'fetched' });
        inner.fetched(event);
      },
      failed: (event) => {
        this.#proxy.inc({ result: 'failed' });
        inner.failed(event);
      },
    };
  }

  /** The hooks that count every request (before any other hook, so that refusals count too). */
  register(app: FastifyInstance): void {
    const started = new WeakMap<FastifyRequest, { at: bigint; upload: boolean }>();
    // where the previous request of a connection ended: a keep-alive connection serves one request
    // at a time, so what moved on it since then is this request's (its headers, its body: the
    // parser may have read a part of the body before any hook runs)
    const counted = new WeakMap<Socket, { read: number; written: number }>();
    app.addHook('onRequest', async (request) => {
      const upload = routeKind(request.method, request.url) === 'v2_upload' && request.method !== 'GET' && request.method !== 'DELETE';
      if (upload) this.#uploads.inc();
      started.set(request, { at: process.hrtime.bigint(), upload });
    });
    const done = (request: FastifyRequest, status: number) => {
      const start = started.get(request);
      if (!start) return;
      started.delete(request);
      if (start.upload) this.#uploads.dec();
      const kind = routeKind(request.method, request.url);
      const method = request.method;
      this.#requests.inc({ kind, method, status: String(status) });
      this.#latency.observe({ kind, method }, Number(process.hrtime.bigint() - start.at) / 1e9);
      const socket = request.raw.socket as Socket | undefined;
      if (socket) {
        const previous = counted.get(socket) ?? { read: 0, written: 0 };
        this.#bytesIn.inc({ kind }, Math.max(0, socket.bytesRead - previous.read));
        this.#bytesOut.inc({ kind }, Math.max(0, socket.bytesWritten - previous.written));
        counted.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
      }
      if (kind === 'v2_manifest' && method === 'GET' && status === 200) this.#pulls.inc();
      // /v2 answers its errors itself (no onError): a 503 there is the storage being unavailable
      if (status === 503 && kind.startsWith('v2_')) this.#backendErrors.inc({ backend: 'storage' });
      if (status === 429) this.#refusals.inc({ reason: 'rate_limit', kind });
      else if (status === 401) this.#refusals.inc({ reason: 'auth', kind });
      else if (status === 403) this.#refusals.inc({ reason: refusalOf(request) ?? 'permission', kind });
      if (status === 401 && (kind === 'token' || SIGN_IN.has(`${method} ${request.url.split('?', 1)[0]}`))) this.#loginFailures.inc({ endpoint: kind === 'token' ? 'token' : 'api' });
    };
    app.addHook('onResponse', async (request, reply) => done(request, reply.statusCode));
    // a client that went away before its answer was written is counted too
    app.addHook('onRequestAbort', async (request) => done(request, 499));
    app.addHook('onError', async (request, _reply, error) => {
      if (request.url.startsWith('/v2')) return; // counted by status above
      const backend = backendOf(error);
      if (backend) this.#backendErrors.inc({ backend });
    });
  }

  /** GET /metrics; with `token`, only for that bearer token. */
  route(app: FastifyInstance, options: { token?: string } = {}): void {
    app.get('/metrics', async (request, reply) => {
      if (options.token !== undefined && !bearerMatches(request.headers.authorization, options.token)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="pier metrics"').type('text/plain').send('a bearer token is required (metrics.token)\n');
      }
      const body = await this.registry.metrics();
      return reply.type(this.registry.contentType).header('cache-control', 'no-store').send(body);
    });
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Which backend an error came from, when it is a backend's. */
function backendOf(error: unknown): string | undefined {
  if (error instanceof StorageUnavailable) return 'storage';
  const e = error as { name?: string; code?: unknown; severity?: unknown; command?: unknown };
  if (e?.name === 'SqliteError' || typeof e?.severity === 'string') return 'database';
  if (typeof e?.command === 'object' || e?.name === 'ReplyError' || e?.name === 'MaxRetriesPerRequestError') return 'redis';
  return undefined;
}
