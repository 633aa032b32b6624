import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface Received {
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
  /** what the receiver answered */
  status: number;
}

/**
 * A webhook receiver on 127.0.0.1 (a real HTTP server): it records every request and answers
 * what `answer` says for it (200 by default), so a test sees retries, order and signatures.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  answer: (path: string, seen: number) => number = () => 200;
  /** how long it takes to answer (a busy endpoint), in ms */
  delayMs = 0;
  #server: Server | undefined;
  #waiters: Array<() => void> = [];

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '/';
        const seen = this.received.filter((r) => r.path === path).length;
        const status = this.answer(path, seen);
        this.received.push({
          path,
          headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
          body: Buffer.concat(chunks).toString('utf8'),
          status,
        });
        setTimeout(() => {
          response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'thanks' : `no: ${status}`);
          for (const wake of this.#waiters.splice(0)) wake();
        }, this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.#server!.address() as AddressInfo).port;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Waits until `done()` holds (checked at each request), or fails after `timeoutMs` saying what came. */
  async until(done: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`the receiver did not get what was expected within ${timeoutMs} ms; it got: ${JSON.stringify(this.received.map((r) => [r.path, r.headers['x-pier-event'], r.status]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

/**
 * What a receiver's code does with X-Pier-Signature (the ten lines the README shows): the HMAC of
 * "<t>.<body>" under the hook's secret, compared in constant time, and a time not too far away.
 */
export function verifyPierSignature(secret: string, body: string, header: string | undefined, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=')));
  const t = Number(parts.t);
  if (!parts.v1 || !Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
