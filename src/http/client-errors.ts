import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { OciError } from '../oci/errors.js';
import { ApiProblem } from './api/problem.js';

/**
 * Errors Node's HTTP server raises about a connection rather than a request that a handler can
 * answer: a body that ends before its Content-Length (the client half-closed), a request or its
 * body that took longer than `requestTimeout`, a malformed request. Fastify's default answers
 * them with its own JSON; here they answer like the surface they were sent to: the OCI envelope
 * under /v2, problem+json elsewhere. The connection is closed afterwards, as Node requires.
 */
export interface ClientErrorHandler {
  /** remembers the request a connection is carrying (an onRequest hook) */
  track(request: IncomingMessage, response: ServerResponse): void;
  handle(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void;
  /** ends a connection whose request body is too slow: 408 with `message` if no answer started */
  timeout(socket: Socket, message: string): void;
}

export function clientErrorHandler(log: { debug(details: object, message: string): void }): ClientErrorHandler {
  const current = new WeakMap<Socket, { url: string; response: ServerResponse }>();
  return {
    track(request, response) {
      if (request.socket) current.set(request.socket, { url: request.url ?? '', response });
    },
    timeout(socket, message) {
      if (socket.destroyed) return;
      const tracked = current.get(socket);
      // an answer that started (a refusal while its body drains): the connection just ends
      if (tracked?.response.headersSent) return void socket.destroy();
      const error: NodeJS.ErrnoException = new Error(message);
      error.code = 'ERR_HTTP_REQUEST_TIMEOUT';
      this.handle(error, socket);
    },
    handle(error, socket) {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const tracked = current.get(socket);
      // the request the connection carries now (not one it finished answering before)
      const inflight = tracked && !tracked.response.writableFinished ? tracked : undefined;
      // a response already under way cannot be replaced: the connection just ends
      if (inflight?.response.headersSent) return void socket.destroy(error);
      const path = inflight?.url ?? requestPath(error.rawPacket);
      const { status, reason, message: described, code } = describe(error);
      // our own timeouts say what was too slow
      const message = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && error.message && !error.message.startsWith('Request timeout') ? error.message : described;
      log.debug({ err: error, path }, `client error: ${message}`);
      let body: string;
      let type: string;
      const headers: Record<string, string> = {};
      if (path.startsWith('/v2')) {
        body = JSON.stringify(new OciError(code, message, { status }).toEnvelope());
        type = 'application/json';
        headers['docker-distribution-api-version'] = 'registry/2.0';
      } else {
        body = JSON.stringify(new ApiProblem(status === 408 ? 'request-timeout' : status === 431 ? 'too-large' : 'validation', message).body());
        type = 'application/problem+json';
      }
      if (socket.writable) {
        const extra = Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        socket.write(
          `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
        );
      }
      socket.destroySoon();
    },
  };
}

function describe(error: NodeJS.ErrnoException): { status: number; reason: string; message: string; code: 'SIZE_INVALID' | 'UNSUPPORTED' | 'BLOB_UPLOAD_INVALID' } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', code: 'BLOB_UPLOAD_INVALID', message: 'the request took too long: its body came too slowly, or stopped' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', code: 'UNSUPPORTED', message: 'the request headers are too large' };
    case 'HPE_INVALID_EOF_STATE':
      return { status: 400, reason: 'Bad Request', code: 'SIZE_INVALID', message: 'the request body ended before its Content-Length' };
    default:
      return { status: 400, reason: 'Bad Request', code: 'UNSUPPORTED', message: 'the request is not valid HTTP/1.1' };
  }
}

/** The path of the request line in the bytes Node could not parse, or '' when there is none. */
function requestPath(raw: Buffer | undefined): string {
  const line = (Buffer.isBuffer(raw) ? raw : undefined)?.subarray(0, 2048).toString('latin1').split('\r\n', 1)[0] ?? '';
  return /^[A-Z]+ (\S+)/.exec(line)?.[1] ?? '';
}
