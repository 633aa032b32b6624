import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Pull-through cache and replication.
 * - `proxies`: a namespace whose repositories are copies of an upstream registry's, fetched on a
 *   miss; the upstream password is sealed with the installation secret (never stored in clear).
 * - `proxy_tags`: when the upstream was last asked where a cached tag points (its TTL counts
 *   from there), and what it answered.
 * - `proxy_repositories`: cached repositories and when a client last read one (what the garbage
 *   collector needs to drop a copy nobody pulls any more).
 * - `replication_rules` and `replication_runs`: what to copy to or from another registry, and
 *   each run (a queue that replicas share through claims, like the outbox), with what it copied.
 */
export const proxiesAndReplication: Migration = {
  name: '009-proxies-replication',
  async up(db, t) {
    await db.schema
      .createTable('proxies')
      .addColumn('namespace', t.key, (c) => c.primaryKey())
      .addColumn('url', 'text', notNull)
      .addColumn('username', 'text')
      // `v1.<iv>.<tag>.<ciphertext>`: AES-256-GCM under a key derived from the installation secret
      .addColumn('password_sealed', 'text')
      .addColumn('ttl_ms', t.bigint, notNull)
      // 'public' | 'members' (any signed-in account)
      .addColumn('visibility', 'text', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('updated_at', t.bigint, notNull)
      .execute();

    await db.schema
      .createTable('proxy_tags')
      .addColumn('repository', t.key, notNull)
      .addColumn('tag', t.key, notNull)
      .addColumn('digest', t.key, notNull)
      .addColumn('checked_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('proxy_tags_pk', ['repository', 'tag'])
      .execute();

    await db.schema
      .createTable('proxy_repositories')
      .addColumn('repository', t.key, (c) => c.primaryKey())
      .addColumn('namespace', t.key, notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('last_access_at', t.bigint, notNull)
      .execute();
    await db.schema.createIndex('proxy_repositories_namespace').on('proxy_repositories').column('namespace').execute();
    await db.schema.createIndex('proxy_repositories_last_access').on('proxy_repositories').column('last_access_at').execute();

    await db.schema
      .createTable('replication_rules')
      .addColumn('name', t.key, (c) => c.primaryKey())
      // 'push': local repositories to the registry at `url'; 'pull': from it into this one
      .addColumn('direction', 'text', notNull)
      .addColumn('url', 'text', notNull)
      .addColumn('username', 'text')
      .addColumn('password_sealed', 'text')
      // JSON arrays of name and tag patterns (`alice/*`, `team/**`; `v1.*`); tags null: every tag
      .addColumn('repositories', 'text', notNull)
      .addColumn('tags', 'text')
      // a namespace prefix on the other side ('' keeps the names)
      .addColumn('destination', 'text', (c) => c.notNull().defaultTo(''))
      // a schedule (every this many ms), or null: push rules follow pushes, runs on demand
      .addColumn('interval_ms', t.bigint)
      .addColumn('next_run_at', t.bigint)
      .addColumn('enabled', 'integer', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('updated_at', t.bigint, notNull)
      .execute();

    await db.schema
      .createTable('replication_runs')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('rule', t.key, notNull)
      // 'push' (an event), 'schedule', 'manual'
      .addColumn('trigger', 'text', notNull)
      // JSON {repository, tags, digests} for a run that an event started; null: everything the rule names
      .addColumn('scope', 'text')
      // 'queued' | 'running' | 'succeeded' | 'failed'
      .addColumn('status', 'text', notNull)
      .addColumn('attempts', 'integer', notNull)
      // a queued run waits until then (a retry's back-off)
      .addColumn('not_before', t.bigint, notNull)
      // who runs it, until when (a replica that dies leaves its run to be taken over)
      .addColumn('claim', 'text')
      .addColumn('claimed_until', t.bigint)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('started_at', t.bigint)
      .addColumn('finished_at', t.bigint)
      .addColumn('manifests_copied', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('blobs_copied', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('blobs_skipped', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('bytes_copied', t.bigint, (c) => c.notNull().defaultTo(0))
      // JSON: what was copied per repository and tag, and the errors of every attempt
      .addColumn('report', 'text')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('replication_runs_queue').on('replication_runs').columns(['status', 'not_before']).execute();
    await db.schema.createIndex('replication_runs_rule').on('replication_runs').columns(['rule', 'created_at']).execute();
  },
};
