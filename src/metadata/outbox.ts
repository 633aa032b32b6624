import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Events that must survive a crash (repository created, manifest pushed or deleted) are rows
 * written in the transaction of the change they describe, then delivered from the table: a crash
 * between the change and its delivery loses nothing, it only delays the event.
 */
export interface OutboxEvent {
  type: string;
  payload: Record<string, unknown>;
}

export async function appendOutbox(db: Kysely<Database> | Transaction<Database>, event: OutboxEvent, now: number): Promise<void> {
  await db
    .insertInto('outbox')
    .values({ id: randomUUID(), type: event.type, payload: JSON.stringify(event.payload), created_at: now, delivered_at: null })
    .execute();
}
