import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How slowly a request body may arrive. Node bounds headers (`headersTimeout`) and, when set, a
 * whole request (`requestTimeout`), but a fixed total cannot tell a 20 GB layer on a slow link from
 * a client that drips a byte a minute to hold a connection, a worker and an upload's claim. So a
 * body must keep a minimum rate, averaged over a window: generous for large uploads, fatal to
 * dripping. Bodies of sign-in requests, which anyone may send, get a short total deadline instead.
 */
export interface BodyTimeouts {
  /** bytes per second a body must average over each window */
  minRate: number;
  windowMs: number;
  /** the whole body of a sign-in request (/token, /api/v1/users/login, /api/v1/sessions, any credential-less /api body) */
  signInMs: number;
}

/** Paths whose bodies carry credentials from anyone: they get `signInMs` in all. */
const SIGN_IN_PATHS = new Set(['/token', '/api/v1/users/login', '/api/v1/sessions']);

/** Watches the body of `request` (if it has one) and calls `expired` once when it is too slow. */
export function watchBody(request: IncomingMessage, response: ServerResponse, timeouts: BodyTimeouts, expired: (message: string) => void): void {
  if (!hasBody(request) || request.complete) return;
  const path = (request.url ?? '').split('?', 1)[0]!;
  const socket = request.socket;
  let timer: NodeJS.Timeout;
  const stop = () => clearTimeout(timer);
  request.once('end', stop);
  request.once('close', stop);
  response.once('close', stop);

  if (SIGN_IN_PATHS.has(path) || (path.startsWith('/api/') && !request.headers.authorization && !request.headers.cookie)) {
    timer = setTimeout(() => {
      if (!request.complete) expired(`the request body did not arrive within ${seconds(timeouts.signInMs)}`);
    }, timeouts.signInMs);
    timer.unref();
    return;
  }

  let before = socket.bytesRead;
  const minBytes = (timeouts.minRate * timeouts.windowMs) / 1000;
  const check = () => {
    if (request.complete || socket.destroyed) return;
    const now = socket.bytesRead;
    const received = now - before;
    before = now;
    // bytes waiting in the request's buffer: Pier is the slow one (storage, a claim), not the client
    const waitingForUs = request.readableLength > 0 || socket.isPaused();
    if (!waitingForUs && received < minBytes) {
      expired(`the request body came slower than ${timeouts.minRate} bytes per second (${received} bytes in ${seconds(timeouts.windowMs)})`);
      return;
    }
    timer = setTimeout(check, timeouts.windowMs);
    timer.unref();
  };
  timer = setTimeout(check, timeouts.windowMs);
  timer.unref();
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
