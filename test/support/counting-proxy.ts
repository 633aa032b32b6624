/**
 * An HTTP proxy in front of a registry, for tests of Pier as its client: it counts the requests
 * that pass (what reached the upstream), and can stop like a crashed upstream (every connection
 * cut, nothing listening), also in the middle of a response body, then come back on the same port.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
}

export class CountingProxy {
  readonly requests: SeenRequest[] = [];
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #cut: { match: RegExp; afterBytes: number; done: () => void } | undefined;

  #port = 0;

  private constructor(private readonly target: URL) {}

  static async start(target: string, port = 0): Promise<CountingProxy> {
    const proxy = new CountingProxy(new URL(target));
    proxy.#port = await proxy.#listen(port);
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** how many requests matched the method and path pattern */
  count(method: string, path: RegExp): number {
    return this.requests.filter((r) => r.method === method && path.test(r.path)).length;
  }

  reset(): void {
    this.requests.length = 0;
  }

  /**
   * The next response to a request whose path matches is cut after `afterBytes` bytes of its body,
   * and the proxy stops at that moment (the upstream "crashed" in the middle of a blob). Resolves
   * once that happened.
   */
  stopDuring(match: RegExp, afterBytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.#cut = { match, afterBytes, done: resolve };
    });
  }

  /** Stops like a crashed upstream: every connection cut, the port closed. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) {
      server.close();
      await once(server, 'close').catch(() => {});
    }
  }

  /** Listens again on the same port. */
  async resume(): Promise<void> {
    if (!this.#server) await this.#listen(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
  }

  async #listen(port: number): Promise<number> {
    const server = createServer((req, res) => this.#forward(req, res));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
    return (server.address() as { port: number }).port;
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? 'GET', path });
    const upstream = httpRequest(
      { host: this.target.hostname, port: this.target.port, method: req.method, path, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const cut = this.#cut && this.#cut.match.test(path) ? this.#cut : undefined;
        if (!cut) {
          answer.pipe(res);
          return;
        }
        this.#cut = undefined;
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= cut.afterBytes) return;
          const part = chunk.subarray(0, Math.max(0, cut.afterBytes - sent));
          sent += part.length;
          res.write(part);
          if (sent >= cut.afterBytes) {
            answer.destroy();
            // flushed first, so the client really holds part of the body when the connection drops
            setTimeout(() => void this.stop().then(cut.done), 50);
          }
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}
