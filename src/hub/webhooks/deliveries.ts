import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../../metadata/schema.js';
import type { Clock } from '../../registry/ports.js';

export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'failed';

export interface Delivery {
  /** sent as X-Pier-Delivery: a receiver that sees it twice (at least once) recognises it */
  id: string;
  hook: string;
  /** the outbox message it came from; null for a redelivery by hand */
  eventId: string | null;
  event: string;
  ordering: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  finishedAt: number | null;
  error: string | null;
}

export interface Attempt {
  attempt: number;
  at: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
}

type Row = Selectable<Database['webhook_deliveries']>;

/**
 * The delivery queue of webhooks: rows every replica works on. A replica claims a delivery with
 * a conditional update (pending and due, or delivering with a lease that ended: its replica
 * died) and only the claim's holder writes the outcome. A delivery is due only when no earlier
 * delivery of the same hook and repository is unfinished, so each hook sees a repository's
 * events in order, a retry holding back those that came after it.
 */
export class WebhookDeliveries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** Queues a delivery of an outbox message to a hook; a message seen again (at least once) is queued once. */
  async enqueue(input: { hook: string; eventId: string | null; event: string; ordering: string; createdAt: number; body: (id: string) => string }): Promise<string | undefined> {
    const id = randomUUID();
    const result = await this.db
      .insertInto('webhook_deliveries')
      .values({
        id,
        hook: input.hook,
        event_id: input.eventId,
        event: input.event,
        ordering: input.ordering,
        body: input.body(id),
        status: 'pending',
        attempts: 0,
        next_attempt_at: this.clock.now(),
        claim: null,
        claimed_until: null,
        created_at: input.createdAt,
        finished_at: null,
        error: null,
      })
      .onConflict((oc) => oc.columns(['hook', 'event_id']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0 ? id : undefined;
  }

  /** Deliveries that may be claimed now: the first unfinished one of each hook and repository, when it is due. */
  async due(limit: number): Promise<string[]> {
    const now = this.clock.now();
    const rows = await this.db
      .selectFrom('webhook_deliveries as d')
      .select('d.id')
      .where((eb) =>
        eb.or([eb.and([eb('d.status', '=', 'pending'), eb('d.next_attempt_at', '<=', now)]), eb.and([eb('d.status', '=', 'delivering'), eb('d.claimed_until', '<', now)])]),
      )
      .where(({ not, exists, selectFrom, eb }) =>
        not(
          exists(
            selectFrom('webhook_deliveries as e')
              .select('e.id')
              .whereRef('e.hook', '=', 'd.hook')
              .whereRef('e.ordering', '=', 'd.ordering')
              .where('e.status', 'in', ['pending', 'delivering'])
              .where((inner) => inner.or([inner('e.created_at', '<', eb.ref('d.created_at')), inner.and([inner('e.created_at', '=', eb.ref('d.created_at')), inner('e.id', '<', eb.ref('d.id'))])])),
          ),
        ),
      )
      .orderBy('d.created_at')
      .orderBy('d.id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Takes a delivery for `claim` until `until`; undefined when another replica has it. Counts the attempt. */
  async claim(id: string, claim: string, until: number): Promise<Delivery | undefined> {
    const now = this.clock.now();
    const row = await this.db.selectFrom('webhook_deliveries').select('attempts').where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'delivering', claim, claimed_until: until, attempts: Number(row.attempts) + 1 })
      .where('id', '=', id)
      .where('attempts', '=', row.attempts)
      .where((eb) => eb.or([eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]), eb.and([eb('status', '=', 'delivering'), eb('claimed_until', '<', now)])]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.get(id);
  }

  async recordAttempt(id: string, attempt: Omit<Attempt, 'at'> & { at?: number }): Promise<void> {
    await this.db
      .insertInto('webhook_attempts')
      .values({
        delivery: id,
        attempt: attempt.attempt,
        at: attempt.at ?? this.clock.now(),
        status_code: attempt.statusCode,
        latency_ms: attempt.latencyMs,
        error: attempt.error,
        response_excerpt: attempt.responseExcerpt,
      })
      .onConflict((oc) => oc.columns(['delivery', 'attempt']).doNothing())
      .execute();
  }

  /** The outcome, written by the claim's holder only: succeeded, failed for good, or pending again at `retryAt`. */
  async finish(id: string, claim: string, outcome: { ok: true } | { ok: false; error: string; retryAt?: number }): Promise<boolean> {
    const now = this.clock.now();
    const status: DeliveryStatus = outcome.ok ? 'succeeded' : outcome.retryAt !== undefined ? 'pending' : 'failed';
    const result = await this.db
      .updateTable('webhook_deliveries')
      .set({
        status,
        claim: null,
        claimed_until: null,
        next_attempt_at: !outcome.ok && outcome.retryAt !== undefined ? outcome.retryAt : now,
        finished_at: status === 'pending' ? null : now,
        error: outcome.ok ? null : outcome.error,
      })
      .where('id', '=', id)
      .where('claim', '=', claim)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async get(id: string): Promise<Delivery | undefined> {
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDelivery(row);
  }

  /** A hook's latest deliveries with their attempts, newest first. */
  async recent(hook: string, limit: number): Promise<Array<Delivery & { attemptList: Attempt[] }>> {
    const rows = await this.db.selectFrom('webhook_deliveries').selectAll().where('hook', '=', hook).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    if (rows.length === 0) return [];
    const attempts = await this.db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where(
        'delivery',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('attempt')
      .execute();
    return rows.map((row) => ({
      ...toDelivery(row),
      attemptList: attempts
        .filter((a) => a.delivery === row.id)
        .map((a) => ({
          attempt: Number(a.attempt),
          at: Number(a.at),
          statusCode: a.status_code === null ? null : Number(a.status_code),
          latencyMs: Number(a.latency_ms),
          error: a.error,
          responseExcerpt: a.response_excerpt,
        })),
    }));
  }

  /** Sends a delivery's body again, as a new delivery (its own id), after whatever the hook has queued. */
  async redeliver(hook: string, id: string): Promise<string | undefined> {
    const original = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).where('hook', '=', hook).executeTakeFirst();
    if (!original) return undefined;
    return this.enqueue({ hook, eventId: null, event: original.event, ordering: original.ordering, createdAt: this.clock.now(), body: () => original.body });
  }

  /** Finished deliveries older than `before` go, with their attempts. */
  async prune(before: number): Promise<void> {
    const old = this.db.selectFrom('webhook_deliveries').select('id').where('status', 'in', ['succeeded', 'failed']).where('finished_at', '<', before);
    await this.db.deleteFrom('webhook_attempts').where('delivery', 'in', old).execute();
    await this.db.deleteFrom('webhook_deliveries').where('status', 'in', ['succeeded', 'failed']).where('finished_at', '<', before).execute();
  }
}

function toDelivery(row: Row): Delivery {
  return {
    id: row.id,
    hook: row.hook,
    eventId: row.event_id,
    event: row.event,
    ordering: row.ordering,
    body: row.body,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    createdAt: Number(row.created_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    error: row.error,
  };
}
