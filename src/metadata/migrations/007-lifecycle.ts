import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Content lifecycle (docs/garbage-collection.md).
 * - `blobs.deleting_at`: set, in a transaction that re-checked that nothing links the blob, when
 *   the collector decides to delete its bytes; from then on nothing may link it again, and the
 *   row goes only once the bytes are gone (a collector killed in between leaves rows that the
 *   next run finishes).
 * - `manifest_references (digest)`: "does any manifest, anywhere, name this blob" for the sweep.
 * - `leases`: a named lock with an expiry that one process holds at a time (the collector: one
 *   run across every replica); a holder that dies loses it when it expires.
 * - `gc_runs`: every collection, with its report.
 */
export const lifecycle: Migration = {
  name: '007-lifecycle',
  async up(db, t) {
    await db.schema.alterTable('blobs').addColumn('deleting_at', t.bigint).execute();
    await db.schema.createIndex('blobs_deleting').on('blobs').column('deleting_at').execute();
    await db.schema.createIndex('manifest_references_by_digest').on('manifest_references').columns(['digest', 'kind']).execute();

    await db.schema
      .createTable('leases')
      .addColumn('name', t.key, (c) => c.primaryKey())
      .addColumn('holder', 'text', notNull)
      .addColumn('expires_at', t.bigint, notNull)
      .execute();

    await db.schema
      .createTable('gc_runs')
      .addColumn('id', t.key, (c) => c.primaryKey())
      // 'schedule' | 'cli' | 'api' | ...
      .addColumn('trigger', 'text', notNull)
      // 'running' | 'succeeded' | 'failed' (a run killed mid-way stays 'running' past its lease)
      .addColumn('status', 'text', notNull)
      .addColumn('dry_run', 'integer', notNull)
      .addColumn('untagged', 'integer', notNull)
      .addColumn('grace_ms', t.bigint, notNull)
      .addColumn('started_at', t.bigint, notNull)
      .addColumn('finished_at', t.bigint)
      // JSON: the report (counts, bytes freed)
      .addColumn('report', 'text')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('gc_runs_started').on('gc_runs').column('started_at').execute();
  },
};
