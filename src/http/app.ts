import { randomUUID } from 'node:crypto';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Hub } from '../hub/hub.js';
import type { ReplicationService } from '../hub/replication/replication.js';
import type { WebhookService } from '../hub/webhooks/webhooks.js';
import type { PullAllowances } from '../hub/pull-limits.js';
import type { Clock, PullGate } from '../registry/ports.js';
import type { Registry } from '../registry/registry.js';
import type { PierMetrics } from './metrics.js';
import type { TokenAuth } from './token-auth.js';
import { watchBody, type BodyTimeouts } from './body-deadline.js';
import { clientErrorHandler } from './client-errors.js';
import { registerHealth, type ReadinessReport } from './health.js';
import { createApiContext } from './api/context.js';
import { registerApi } from './api/index.js';
import { ApiProblem, notFound, sendProblem, toProblem } from './api/problem.js';
import { registerApiDocs } from './api-docs.js';
import { registerSearch } from './search.js';
import { registerToken } from './token.js';
import { registerUi, type UiOptions } from './ui.js';
import { openAuthorizer, type V2Authorizer } from './v2/authorize.js';
import { sendOciError } from './v2/errors.js';
import { registerV2 } from './v2/index.js';
import { tokenAuthorizer } from './v2/token-authorizer.js';
import { matchV2Route, ROUTE_METHODS } from './v2/route.js';
import { OciError } from '../oci/errors.js';

export interface AppOptions {
  registry: Registry;
  hub: Hub;
  logger: Logger;
  clock: Clock;
  /** token authentication; without it /v2 is open (PIER_AUTH=open) */
  auth?: TokenAuth;
  /** reverse proxies whose X-Forwarded-For (request.ip) and X-Forwarded-Proto (Secure cookies) are believed */
  trustProxy?: string[];
  /** the URL clients reach Pier at, when configured: its origin is Pier's own for the CSRF check */
  publicUrl?: string;
  /** serve HTTPS (HTTP/1.1) with this certificate and key; plain HTTP without */
  https?: HttpsServerOptions;
  /** probes the backends for /readyz */
  readiness?: () => Promise<ReadinessReport>;
  /** pull rate limits on manifest GET and HEAD (default: none) */
  pullGate?: PullGate;
  /** an account's pull allowance for /api/v1/users/me/pull-limit (the pull limits, where they run) */
  pullAllowances?: PullAllowances;
  /** test mode: every /api/v1 answer is checked against the OpenAPI document (a mismatch is a 500 that says why) */
  checkApiResponses?: boolean;
  /** the built web UI served at / (default: none) */
  ui?: UiOptions;
  /** replication rules and runs, for /api/v1/replication (default: none) */
  replication?: ReplicationService;
  /** webhooks, for /api/v1/repositories/{namespace}/{name}/webhooks and /api/v1/orgs/{org}/webhooks (default: none) */
  webhooks?: WebhookService;
  /** Prometheus series and GET /metrics (default: none, no route) */
  metrics?: { series: PierMetrics; token?: string };
  /** how long requests may take to arrive (default: the configuration's defaults) */
  timeouts?: HttpTimeouts;
}

export interface HttpTimeouts {
  /** request line and headers (ms) */
  headersMs: number;
  /** a whole request, body included (ms; 0: no total bound) */
  requestMs: number;
  body: BodyTimeouts;
}

const DEFAULT_TIMEOUTS: HttpTimeouts = { headersMs: 30_000, requestMs: 0, body: { minRate: 1024, windowMs: 60_000, signInMs: 10_000 } };

export function buildApp(options: AppOptions): FastifyInstance {
  const clientErrors = clientErrorHandler(options.logger);
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  // Node checks its header and request deadlines this often: a fraction of the shortest
  const bounds = [timeouts.headersMs, timeouts.requestMs].filter((ms) => ms > 0);
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.floor(Math.min(...bounds, 120_000) / 4)));
  const app = Fastify({
    ...(options.https ? { https: { ...options.https, connectionsCheckingInterval } } : { http: { connectionsCheckingInterval } }),
    loggerInstance: options.logger,
    disableRequestLogging: true,
    // every log line of a request carries its id (reqId), which the client gets as X-Request-Id:
    // a proxy's id is kept when it is a plain token, else one is made
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // keep-alive clients (docker) must not hold a closing server open
    forceCloseConnections: 'idle',
    // a client that stops sending or reading for this long loses its connection (and its claim)
    connectionTimeout: 5 * 60_000,
    routerOptions: { maxParamLength: 8192, ignoreDuplicateSlashes: false },
    // forwarded client addresses only from configured proxies, or a load balancer would be everyone
    trustProxy: options.trustProxy && options.trustProxy.length > 0 ? options.trustProxy : false,
    // A path that is not valid percent-encoding fails in the router, before any handler: under
    // /v2 it still answers with the OCI envelope, not Fastify's own JSON.
    frameworkErrors: (error, request, reply) => badUrl(error, request as FastifyRequest, reply as unknown as FastifyReply),
    // a body shorter than its Content-Length, a request timeout: the envelope of the surface asked
    clientErrorHandler: (error, socket) => clientErrors.handle(error as unknown as Parameters<typeof clientErrors.handle>[0], socket),
  }) as unknown as FastifyInstance;
  // Fastify's requestTimeout of 0 leaves Node's disabled: set both deadlines on the server itself
  app.server.headersTimeout = timeouts.requestMs > 0 ? Math.min(timeouts.headersMs, timeouts.requestMs) : timeouts.headersMs;
  app.server.requestTimeout = timeouts.requestMs;
  app.addHook('onRequest', (request, reply, done) => {
    clientErrors.track(request.raw, reply.raw);
    watchBody(request.raw, reply.raw, timeouts.body, (message) => {
      request.log.info({ path: request.url.slice(0, 200), ip: request.ip }, message);
      clientErrors.timeout(request.raw.socket, message);
    });
    done();
  });

  // 'idle' closes the connections that are idle when close() begins, once. A response still being
  // written then (a blob stream's last tick, after the client has every byte) would leave its
  // keep-alive connection open until keepAliveTimeout (72 s): close connections as they go idle.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onResponse', (_request, _reply, done) => {
    if (closing) app.server.closeIdleConnections();
    done();
  });

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // first, so that every request is counted, the ones other hooks refuse included
  options.metrics?.series.register(app);

  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url });
  });

  // Bodies are read by the endpoints themselves: blobs stream to storage, manifests have their
  // own limit. Fastify's parsers (1 MiB, JSON only) would refuse or buffer them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  registerV2(app, { registry: options.registry, authorizer: options.auth ? tokenAuthorizer(options.auth) : openAuthorizer, pullGate: options.pullGate, audit: options.hub.audit });
  if (options.auth) registerToken(app, options.auth);
  const apiContext = createApiContext({
    hub: options.hub,
    registry: options.registry,
    auth: options.auth,
    clock: options.clock,
    publicUrl: options.publicUrl,
    trustProxy: options.trustProxy,
    replication: options.replication,
    webhooks: options.webhooks,
    pullAllowances: options.pullAllowances,
  });
  const api = registerApi(app, apiContext, { checkResponses: options.checkApiResponses });
  registerApiDocs(app);
  options.metrics?.series.route(app, { ...(options.metrics.token !== undefined ? { token: options.metrics.token } : {}) });
  registerSearch(app, apiContext);

  registerHealth(app, { readiness: options.readiness });
  if (options.ui) registerUi(app, options.ui);

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/v2')) {
      // Methods Fastify does not route (PROPFIND, TRACE, ...) on a /v2 endpoint are 405, not 404.
      const route = matchV2Route(request.url.split('?')[0]!);
      const error = route
        ? new OciError('UNSUPPORTED', `${request.method} is not supported on this endpoint`, { status: 405, headers: { allow: ROUTE_METHODS[route.kind].join(', ') } })
        : new OciError('UNSUPPORTED', 'no such endpoint', { status: 404 });
      reply.header('docker-distribution-api-version', 'registry/2.0');
      return sendOciError(reply, error, request.log, request.method === 'HEAD');
    }
    const path = request.url.split('?')[0]!;
    // a path the API declares, with another method: 405 and what it allows
    const allowed = api.methodsAt(path);
    if (allowed.length > 0) {
      const problem = new ApiProblem('method-not-allowed', `${request.method} is not supported on ${path.slice(0, 200)}: use ${allowed.join(', ')}`, {
        headers: { allow: allowed.join(', ') },
      });
      return sendProblem(reply, problem);
    }
    return sendProblem(reply, notFound(`no such page: ${request.method} ${path.slice(0, 200)}`));
  });

  app.setErrorHandler((error, request, reply) => {
    if (request.url.startsWith('/v2')) return sendOciError(reply, error, request.log, request.method === 'HEAD');
    const problem = toProblem(error);
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, problem);
  });

  return app;
}

export interface RegisteredRoute {
  method: string;
  url: string;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the app registered (Fastify's syntax: `/api/v1/orgs/:org`), e.g. to check the OpenAPI document covers them. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

/** A path that is not valid percent-encoding: under /v2 the OCI envelope, elsewhere a problem. */
function badUrl(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (request.url.startsWith('/v2')) {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    const oci = new OciError('UNSUPPORTED', 'the request path is not valid URL encoding', { status: 400 });
    void sendOciError(reply, oci, request.log, request.method === 'HEAD');
    return;
  }
  void sendProblem(reply, toProblem(error));
}
