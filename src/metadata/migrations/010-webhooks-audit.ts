import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Webhooks and the audit log.
 * - `webhooks`: a hook of one repository or of an organisation (all its repositories): where to
 *   post, which events, its signing secret sealed with the installation secret (it must be used
 *   in clear to sign, so it cannot be hashed), and why it was disabled when it kept failing.
 * - `webhook_deliveries`: the delivery queue, fed by the outbox (one row per event and hook, so a
 *   restart loses nothing). Replicas claim rows with a lease; a row waits while an earlier one of
 *   the same hook and repository (`ordering`) is not finished, which keeps order per repository.
 * - `webhook_attempts`: every attempt of a delivery (status, latency, an excerpt of the answer).
 * - `audit_events`: who did what, on what, from where, with what result.
 */
export const webhooksAndAudit: Migration = {
  name: '010-webhooks-audit',
  async up(db, t) {
    await db.schema
      .createTable('webhooks')
      .addColumn('id', t.key, (c) => c.primaryKey())
      // 'repository' (scope is its name) | 'organization' (scope is the organisation's name)
      .addColumn('scope_kind', 'text', notNull)
      .addColumn('scope', t.key, notNull)
      .addColumn('name', 'text', notNull)
      .addColumn('url', 'text', notNull)
      // JSON array of event names
      .addColumn('events', 'text', notNull)
      .addColumn('active', 'integer', notNull)
      // `v1.<iv>.<tag>.<ciphertext>` (auth/sealed-secret.ts), context `webhook <id>`
      .addColumn('secret_sealed', 'text', notNull)
      .addColumn('disabled_reason', 'text')
      // deliveries failed for good in a row (a success resets it); too many disable the hook
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_by', 'text')
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('updated_at', t.bigint, notNull)
      .execute();
    await db.schema.createIndex('webhooks_scope').on('webhooks').columns(['scope_kind', 'scope']).execute();

    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('hook', t.key, notNull)
      // the outbox message it came from (null: a redelivery by hand); one delivery per message and hook
      .addColumn('event_id', t.key)
      .addColumn('event', 'text', notNull)
      // deliveries of one hook with the same ordering key (the repository) go one after the other
      .addColumn('ordering', t.key, notNull)
      // the body, fixed when the event was queued (a retry sends the same bytes, signed again)
      .addColumn('body', 'text', notNull)
      // 'pending' | 'delivering' | 'succeeded' | 'failed'
      .addColumn('status', 'text', notNull)
      .addColumn('attempts', 'integer', notNull)
      .addColumn('next_attempt_at', t.bigint, notNull)
      .addColumn('claim', 'text')
      .addColumn('claimed_until', t.bigint)
      // when the event happened: the order of a hook's deliveries, and the end of their retries
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('finished_at', t.bigint)
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('webhook_deliveries_event').on('webhook_deliveries').columns(['hook', 'event_id']).unique().execute();
    await db.schema.createIndex('webhook_deliveries_queue').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('webhook_deliveries_order').on('webhook_deliveries').columns(['hook', 'ordering', 'created_at']).execute();

    await db.schema
      .createTable('webhook_attempts')
      .addColumn('delivery', t.key, notNull)
      .addColumn('attempt', 'integer', notNull)
      .addColumn('at', t.bigint, notNull)
      // the HTTP status, null when no answer came (refused, timeout, connection error)
      .addColumn('status_code', 'integer')
      .addColumn('latency_ms', t.bigint, notNull)
      .addColumn('error', 'text')
      .addColumn('response_excerpt', 'text')
      .addPrimaryKeyConstraint('webhook_attempts_pk', ['delivery', 'attempt'])
      .execute();

    await db.schema
      .createTable('audit_events')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('at', t.bigint, notNull)
      // the account that acted (null: anonymous, or the system)
      .addColumn('actor', t.key)
      // 'password' | 'token' | 'session' | 'browser' | 'cli' | 'system'
      .addColumn('via', 'text')
      .addColumn('action', t.key, notNull)
      // what it acted on: a repository, an account, a token id, a setting
      .addColumn('target', 'text')
      // the namespace the action belongs to (an organisation's owners read theirs)
      .addColumn('namespace', t.key)
      // 'ok' | 'failed' | 'refused'
      .addColumn('result', 'text', notNull)
      .addColumn('address', 'text')
      .addColumn('user_agent', 'text')
      .addColumn('request_id', 'text')
      // JSON: what else says what happened (the new role, the visibility...)
      .addColumn('details', 'text')
      .execute();
    await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
    await db.schema.createIndex('audit_events_namespace').on('audit_events').columns(['namespace', 'at']).execute();
    await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor', 'at']).execute();
    await db.schema.createIndex('audit_events_action').on('audit_events').columns(['action', 'at']).execute();
  },
};
