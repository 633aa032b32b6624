import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

/**
 * One HTTP request to another registry, over node:http (fetch cannot send a streamed body with a
 * Content-Length, and hides how a connection failed). Keep-alive agents are shared: a pull through
 * the cache and a replication run reuse their connections to the same registry.
 */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** a Buffer, or a stream (then give its content-length in `headers`) */
  body?: Buffer | Readable;
  /**
   * The connection may stay silent this long (waiting for the answer, or between two chunks of
   * its body) before the request fails: a registry that stops answering never hangs a pull.
   */
  idleMs?: number;
}

export const USER_AGENT = 'pier (pull-through cache and replication)';

const agents = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

/** A connection that failed or stalled: the other registry is unreachable, not saying no. */
export class ConnectionError extends Error {
  constructor(
    readonly url: URL,
    cause: Error,
  ) {
    super(`${url.host} did not answer: ${describe(cause)}`, { cause });
    this.name = 'ConnectionError';
  }
}

/**
 * Sends the request and resolves with the response once its headers arrived (the body still to be
 * read or discarded by the caller). A failure before the answer rejects with ConnectionError; the
 * body stream fails the same way later (a connection cut in the middle of a blob).
 */
export function send(request: HttpRequest): Promise<IncomingMessage> {
  const { url } = request;
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const agent = agents[url.protocol as 'http:' | 'https:'];
  if (!agent) return Promise.reject(new Error(`unsupported URL scheme ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = make(url, { method: request.method, headers: request.headers, agent });
    const idleMs = request.idleMs ?? 60_000;
    req.setTimeout(idleMs, () => req.destroy(Object.assign(new Error(`no answer for ${Math.round(idleMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.once('error', (error) => reject(new ConnectionError(url, error)));
    req.once('response', (response) => {
      // the idle limit holds while the body streams too (req.setTimeout watches the socket); a
      // connection cut in the middle fails the body with an error its reader sees
      response.once('error', () => {});
      resolve(response);
    });
    const body = request.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.once('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

/** Reads a whole (small) body, refusing more than `maxBytes`. */
export async function readBody(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw new Error(`the answer is larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      response.destroy();
      throw new Error(`the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Lets a response go without reading it. Even a complete one must be read to its end: only then
 * does its connection go back to the pool (else it stays open, and keeps the process alive).
 */
export function discard(response: IncomingMessage): void {
  response.resume();
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'ECONNRESET') return 'the connection was reset';
  return error.message || code || 'connection failed';
}
