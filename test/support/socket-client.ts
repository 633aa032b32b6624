/**
 * A client on a raw TCP socket, for what fetch cannot do: keep sending a body after the server
 * answered (a refusal must reach a client that is still writing), send less than Content-Length
 * and half-close, or drip bytes slowly. It records what it managed to send, whether a write
 * failed (EPIPE, ECONNRESET: what docker prints as "broken pipe"), and the response it read.
 */
import { connect, type Socket } from 'node:net';

export interface SocketRequest {
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  /** body bytes to send in all (default 0) */
  total?: number;
  /** bytes per write (default 64 KiB) */
  chunkSize?: number;
  /** pause between writes, in ms (default none: as fast as the socket takes them) */
  delayMs?: number;
  /** chunked transfer encoding instead of Content-Length (default: Content-Length = total, unless headers set one) */
  chunked?: boolean;
  /** half-close (FIN) after this many body bytes, then wait for the answer */
  halfCloseAfter?: number;
  /** give up after this long (default 30 s) */
  timeoutMs?: number;
  /** a body byte (default 'x') */
  fill?: number;
}

export interface SocketExchange {
  /** undefined when no complete status line came */
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** body bytes written before the client stopped */
  sent: number;
  /** the error of a failed write or of the socket, if any (code, e.g. EPIPE or ECONNRESET) */
  socketError?: string;
  /** whether the server closed (or reset) the connection */
  closed: boolean;
  /** ms from the first byte sent to the socket's close (or to the end of the exchange) */
  elapsedMs: number;
}

export function socketRequest(base: string, request: SocketRequest): Promise<SocketExchange> {
  const url = new URL(base);
  const total = request.total ?? 0;
  const chunkSize = request.chunkSize ?? 64 * 1024;
  const headers: Record<string, string | number> = { host: url.host, ...request.headers };
  if (request.chunked) headers['transfer-encoding'] = 'chunked';
  else if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = total;
  const head = `${request.method} ${request.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let sent = 0;
    let socketError: string | undefined;
    let closed = false;
    let sending = true;
    let done = false;
    const timer = setTimeout(() => finish(), request.timeoutMs ?? 30_000);

    const parsed = () => parseResponse(received);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sending = false;
      const response = parsed();
      socket.destroy();
      resolve({ ...response, sent, socketError, closed, elapsedMs: Date.now() - started });
    };
    // done once the answer is complete and the client has stopped sending, or once the socket is gone
    const maybeFinish = () => {
      if (closed || (!sending && parsed().complete)) finish();
    };

    socket.on('data', (bytes: Buffer) => {
      received = Buffer.concat([received, bytes]);
      maybeFinish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      socketError ??= error.code ?? error.message;
      sending = false;
    });
    socket.on('close', () => {
      closed = true;
      sending = false;
      finish();
    });

    const write = (bytes: Buffer | string) =>
      new Promise<boolean>((ok) => {
        if (socket.destroyed || socketError) return ok(false);
        socket.write(bytes, (error) => {
          if (error) socketError ??= (error as NodeJS.ErrnoException).code ?? error.message;
          ok(!error);
        });
      });

    socket.once('connect', async () => {
      if (!(await write(head))) return void maybeFinish();
      const stopAt = request.halfCloseAfter ?? total;
      while (sending && sent < stopAt) {
        const size = Math.min(chunkSize, stopAt - sent);
        const bytes = Buffer.alloc(size, request.fill ?? 0x78);
        const ok = await write(request.chunked ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]) : bytes);
        if (!ok) break;
        sent += size;
        if (request.delayMs) await new Promise((r) => setTimeout(r, request.delayMs));
      }
      if (sending && request.chunked && request.halfCloseAfter === undefined) await write('0\r\n\r\n');
      if (sending && request.halfCloseAfter !== undefined) socket.end();
      sending = false;
      maybeFinish();
    });
  });
}

/** The first response in `bytes`: status, headers and, once complete, its body (Content-Length). */
function parseResponse(bytes: Buffer): { status?: number; headers: Record<string, string>; body: string; complete: boolean } {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return { headers: {}, body: '', complete: false };
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = bytes.subarray(end + 4, end + 4 + length);
  return { status: Number.isNaN(status) ? undefined : status, headers, body: body.toString('utf8'), complete: body.length >= length };
}
