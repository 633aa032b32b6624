import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisConnectionOptions {
  url: string;
  /** prepended to every key (ioredis keyPrefix) */
  prefix: string;
  logger: Logger;
  /** a command that takes longer fails, and Redis counts as unavailable (default 500 ms) */
  commandTimeoutMs?: number;
  /** reconnect attempts back off up to this (default 1 s) */
  maxBackoffMs?: number;
  /** how long a connection attempt, and open() waiting for the first one, may take (default 2 s) */
  connectTimeoutMs?: number;
  /** while Redis is unavailable but connected (commands time out), how often it is pinged (default 1 s) */
  probeIntervalMs?: number;
}

export type Attempt<T> = { ok: true; value: T } | { ok: false };

/**
 * One ioredis client and whether Redis can be used right now. Requests never wait for a dead
 * Redis: no offline queue (a command while disconnected fails at once), a short command timeout,
 * no retry of a command, and a reconnect backoff bounded by maxBackoffMs. What uses Redis goes
 * through attempt(), which answers { ok: false } at once while Redis is unavailable, so callers
 * fall back (count in process, skip the cache). Becoming unavailable is logged once (warn), and
 * being back once (info).
 */
export class RedisConnection {
  readonly client: Redis;
  readonly #logger: Logger;
  readonly #where: string;
  readonly #probeIntervalMs: number;
  #up = false;
  #warned = false;
  #closing = false;
  #generation = 0;
  #probe: NodeJS.Timeout | undefined;
  #lastReplyError = '';
  readonly #upListeners = new Set<() => void>();

  private constructor(options: RedisConnectionOptions) {
    this.#logger = options.logger;
    this.#where = redactUrl(options.url);
    this.#probeIntervalMs = options.probeIntervalMs ?? 1_000;
    const maxBackoffMs = options.maxBackoffMs ?? 1_000;
    this.client = new Redis(options.url, {
      keyPrefix: options.prefix,
      enableOfflineQueue: false,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxBackoffMs),
      lazyConnect: true,
    });
    this.client.on('ready', () => this.#markUp());
    this.client.on('error', (error: Error) => this.#markDown(error.message));
    this.client.on('close', () => this.#markDown('connection closed'));
  }

  /**
   * Connects, and waits for the first attempt to succeed or fail (at most connectTimeoutMs):
   * a Redis that does not answer at start is not an error, Pier runs and reconnects.
   */
  static async open(options: RedisConnectionOptions): Promise<RedisConnection> {
    const connection = new RedisConnection(options);
    const settled = new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.connectTimeoutMs ?? 2_000);
      connection.client.once('ready', done);
      connection.client.once('error', done);
      function done() {
        clearTimeout(timer);
        connection.client.off('ready', done);
        connection.client.off('error', done);
        resolve();
      }
    });
    connection.client.connect().catch(() => {
      // reported through the 'error' event; ioredis keeps reconnecting
    });
    await settled;
    return connection;
  }

  /** Whether commands may be sent now. */
  get available(): boolean {
    return this.#up && this.client.status === 'ready';
  }

  /**
   * Counts the times Redis became available, the first connection included: what was written
   * while it was away (or before a restart) may have to be invalidated when it changes.
   */
  get generation(): number {
    return this.#generation;
  }

  /** Called each time Redis becomes available. */
  onAvailable(listener: () => void): () => void {
    this.#upListeners.add(listener);
    return () => this.#upListeners.delete(listener);
  }

  /** Runs `op` if Redis is available; { ok: false } at once if not, or when it fails. */
  async attempt<T>(op: (client: Redis) => Promise<T>): Promise<Attempt<T>> {
    if (!this.available) return { ok: false };
    try {
      return { ok: true, value: await op(this.client) };
    } catch (error) {
      this.#failed(error as Error);
      return { ok: false };
    }
  }

  /** Resolves when Redis answers PING now; rejects with the reason otherwise (readiness checks). */
  async ping(): Promise<void> {
    if (this.client.status !== 'ready') throw new Error(`Redis at ${this.#where} is unavailable (${this.client.status})`);
    try {
      await this.client.ping();
    } catch (error) {
      this.#failed(error as Error);
      throw new Error(`Redis at ${this.#where} does not answer: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#stopProbe();
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through: drop the connection
      }
    }
    this.client.disconnect();
  }

  #failed(error: Error): void {
    // a reply error (a wrong type, a script error) is a bug or a stray key, not an outage
    if (error.name === 'ReplyError') {
      if (error.message !== this.#lastReplyError) this.#logger.error({ err: error, redis: this.#where }, 'Redis refused a command');
      this.#lastReplyError = error.message;
      return;
    }
    this.#markDown(error.message);
    // still connected but not answering (a command timed out): ping until it answers again
    if (this.client.status === 'ready') this.#startProbe();
  }

  #markUp(): void {
    if (this.#up || this.#closing) return;
    this.#up = true;
    this.#generation++;
    this.#stopProbe();
    if (this.#warned) this.#logger.info({ redis: this.#where }, 'Redis is available again: shared counters and the manifest cache are back in Redis');
    this.#warned = false;
    for (const listener of this.#upListeners) listener();
  }

  #markDown(reason: string): void {
    if (this.#closing) return;
    this.#up = false;
    if (this.#warned) return;
    this.#warned = true;
    this.#logger.warn(
      { redis: this.#where, reason },
      'Redis is unavailable: counting logins and limits in this process and bypassing the manifest cache until it is back',
    );
  }

  #startProbe(): void {
    if (this.#probe) return;
    this.#probe = setInterval(() => {
      if (this.client.status !== 'ready') return this.#stopProbe(); // the 'ready' event takes over
      this.client.ping().then(
        () => this.#markUp(),
        () => {},
      );
    }, this.#probeIntervalMs);
    this.#probe.unref();
  }

  #stopProbe(): void {
    if (this.#probe) clearInterval(this.#probe);
    this.#probe = undefined;
  }
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // ioredis also reads ?password= from the query
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}
