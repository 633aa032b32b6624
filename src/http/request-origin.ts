import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../registry/ports.js';

/** Where a request came from: the client's address (X-Forwarded-For from trusted proxies only), its user agent and id. */
export function requestOrigin(request: FastifyRequest): RequestOrigin {
  const agent = request.headers['user-agent'];
  return { address: request.ip, userAgent: typeof agent === 'string' ? agent : null, requestId: String(request.id) };
}
