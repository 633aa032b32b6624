import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';

/** An event of the outbox (metadata/outbox.ts wrote it in the transaction of its change). */
export interface OutboxMessage {
  /** unique: a subscriber that may see a message twice recognises it by its id */
  id: string;
  type: string;
  payload: Record<string, unknown>;
  createdAt: number;
}

export type OutboxSubscriber = (message: OutboxMessage) => void | Promise<void>;

export interface OutboxDispatcherOptions {
  /** rows claimed at a time (default 100) */
  batchSize?: number;
  /** how long a claim holds before another replica may take the rows over (default 60 s) */
  claimMs?: number;
  /** delivered rows are deleted after this long (default 24 h) */
  retentionMs?: number;
  /** a subscriber failed: the message stays and is delivered again once its claim ends */
  onError?: (error: unknown, message?: OutboxMessage) => void;
}

/**
 * Delivers the outbox: claims undelivered rows, hands each to every subscriber, then marks it
 * delivered. Delivery is at least once: a replica that dies between the two leaves its claim to
 * expire and another delivers the rows again; a subscriber that throws gets the message again
 * after the claim (and so do the others: subscribers are idempotent by `id`).
 *
 * Several replicas share the table without a lock held across delivery. `delivered_at` is null
 * for a pending row, the delivery time once delivered, and, while a replica holds a claim, minus
 * the end of that claim (negative, never a time): a claim is one conditional UPDATE, which only
 * one replica wins for each row (PostgreSQL re-checks the condition on the row it waited for).
 */
export class OutboxDispatcher {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #batchSize: number;
  readonly #claimMs: number;
  readonly #retentionMs: number;
  #onError: (error: unknown, message?: OutboxMessage) => void;
  readonly #subscribers = new Set<OutboxSubscriber>();
  #running: Promise<number> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = 0;

  constructor(db: Kysely<Database>, clock: Clock, options: OutboxDispatcherOptions = {}) {
    this.#db = db;
    this.#clock = clock;
    this.#batchSize = options.batchSize ?? 100;
    this.#claimMs = options.claimMs ?? 60_000;
    this.#retentionMs = options.retentionMs ?? 24 * 3600_000;
    this.#onError = options.onError ?? (() => {});
  }

  /** Adds a subscriber; returns what removes it. */
  subscribe(subscriber: OutboxSubscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  /**
   * Delivers every pending row (and rows whose claim expired) until none is left; resolves with
   * how many were delivered. Calls that come while a run is going join it, then run once more.
   */
  deliver(): Promise<number> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = (async () => {
      let delivered = 0;
      try {
        do {
          this.#again = false;
          delivered += await this.#drain();
        } while (this.#again);
      } finally {
        this.#running = undefined;
      }
      return delivered;
    })();
    this.#running = run;
    return run;
  }

  /**
   * Delivers every `intervalMs` (a change on this replica may also call deliver() at once);
   * `onError` hears of failed deliveries (with the message) and failed runs (without).
   */
  start(intervalMs: number, onError?: (error: unknown, message?: OutboxMessage) => void): void {
    if (this.#timer) return;
    if (onError) this.#onError = onError;
    this.#timer = setInterval(() => void this.deliver().catch((error: unknown) => this.#onError(error)), intervalMs);
    this.#timer.unref();
  }

  /** A change was just written on this replica: deliver now rather than at the next tick (only while started). */
  notify(): void {
    if (this.#timer) void this.deliver().catch((error: unknown) => this.#onError(error));
  }

  /** Stops the timer and waits for a delivery in progress. Undelivered rows stay for the next start. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  /** Rows not delivered yet (claimed or not): for tests and /readyz-like checks. */
  async pending(): Promise<number> {
    const row = await this.#db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where((eb) => eb.or([eb('delivered_at', 'is', null), eb('delivered_at', '<', 0)]))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async #drain(): Promise<number> {
    let delivered = 0;
    let lost = 0;
    for (;;) {
      const claimed = await this.#claim();
      if (claimed.rows.length === 0) {
        // another replica claimed what this one saw: look again, a few times, for what is left
        if (claimed.raced && ++lost < 10) continue;
        break;
      }
      lost = 0;
      const done: string[] = [];
      for (const message of claimed.rows) {
        if (await this.#hand(message)) done.push(message.id);
      }
      if (done.length > 0) {
        await this.#db
          .updateTable('outbox')
          .set({ delivered_at: Math.max(1, this.#clock.now()) })
          .where('id', 'in', done)
          .where('delivered_at', '=', claimed.mark)
          .execute();
      }
      delivered += done.length;
      if (done.length < claimed.rows.length) break; // failures wait for their claim to end
    }
    await this.#prune();
    return delivered;
  }

  async #claim(): Promise<{ rows: OutboxMessage[]; mark: number; raced: boolean }> {
    const now = this.#clock.now();
    // a little jitter, so that two replicas claiming in the same millisecond hold different marks
    const mark = -(now + this.#claimMs + Math.floor(Math.random() * 1000));
    const candidates = await this.#db.selectFrom('outbox').select('id').where(claimable(now)).orderBy('created_at').orderBy('id').limit(this.#batchSize).execute();
    if (candidates.length === 0) return { rows: [], mark, raced: false };
    const rows = await this.#db
      .updateTable('outbox')
      .set({ delivered_at: mark })
      .where('id', 'in', candidates.map((c) => c.id))
      .where(claimable(now))
      .returning(['id', 'type', 'payload', 'created_at'])
      .execute();
    const messages = rows
      .map((r) => ({ id: r.id, type: r.type, payload: JSON.parse(r.payload) as Record<string, unknown>, createdAt: Number(r.created_at) }))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    return { rows: messages, mark, raced: messages.length === 0 };
  }

  async #hand(message: OutboxMessage): Promise<boolean> {
    let ok = true;
    for (const subscriber of this.#subscribers) {
      try {
        await subscriber(message);
      } catch (error) {
        ok = false;
        this.#onError(error, message);
      }
    }
    return ok;
  }

  async #prune(): Promise<void> {
    const now = this.#clock.now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    await this.#db.deleteFrom('outbox').where('delivered_at', '>', 0).where('delivered_at', '<', now - this.#retentionMs).execute();
  }
}

/** Pending (null), or claimed by a replica whose claim ended (minus its end, now past). */
function claimable(now: number) {
  return (eb: ExpressionBuilder<Database, 'outbox'>) =>
    eb.or([eb('delivered_at', 'is', null), eb.and([eb('delivered_at', '<', 0), eb('delivered_at', '>=', -now)])]);
}
