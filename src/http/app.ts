import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import { openAuthorizer, type V2Authorizer } from './v2/authorize.js';
import { sendOciError } from './v2/errors.js';
import { registerV2 } from './v2/index.js';
import { OciError } from '../oci/errors.js';

export interface AppOptions {
  registry: Registry;
  logger: Logger;
  authorizer?: V2Authorizer;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    disableRequestLogging: true,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // keep-alive clients (docker) must not hold a closing server open
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 8192, ignoreDuplicateSlashes: false },
  }) as unknown as FastifyInstance;

  // Bodies are read by the endpoints themselves: blobs stream to storage, manifests have their
  // own limit. Fastify's parsers (1 MiB, JSON only) would refuse or buffer them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  registerV2(app, { registry: options.registry, authorizer: options.authorizer ?? openAuthorizer });

  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/v2')) {
      return sendOciError(reply, new OciError('UNSUPPORTED', 'no such endpoint', { status: 404 }), request.log, request.method === 'HEAD');
    }
    return reply.code(404).header('content-type', 'application/problem+json').send({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: `no such page: ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`,
    });
  });

  app.setErrorHandler((error, request, reply) => {
    if (request.url.startsWith('/v2')) return sendOciError(reply, error, request.log, request.method === 'HEAD');
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).header('content-type', 'application/problem+json').send({
      type: 'about:blank',
      title: status >= 500 ? 'Internal Server Error' : 'Bad Request',
      status,
      detail: status >= 500 ? 'internal error' : (error as Error).message,
    });
  });

  return app;
}
