import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Retention policies (docs/retention.md): per repository or per namespace (a namespace's applies
 * to each of its repositories without one of its own), the rules that keep tags; a tag that none
 * keeps is deleted by a run. `retention_runs` records the runs: the schedule counts from the
 * latest complete one on any replica.
 */
export const retention: Migration = {
  name: '014-retention',
  async up(db, t) {
    await db.schema
      .createTable('retention_policies')
      // 'repository' | 'namespace'
      .addColumn('scope', t.key, notNull)
      // a repository's name, or a namespace
      .addColumn('target', t.key, notNull)
      .addColumn('keep_last', 'integer')
      .addColumn('keep_pulled_days', 'integer')
      // a glob or a /regular expression/, as immutable tag rules
      .addColumn('keep_pattern', 'text')
      .addColumn('updated_at', t.bigint, notNull)
      .addColumn('updated_by', 'text')
      .addPrimaryKeyConstraint('retention_policies_pk', ['scope', 'target'])
      .execute();
    await db.schema
      .createTable('retention_runs')
      .addColumn('id', t.key, (c) => c.primaryKey())
      // 'schedule' | 'cli' | 'api'
      .addColumn('trigger', 'text', notNull)
      // '*' (every repository with a policy), a namespace, or a repository
      .addColumn('scope', t.key, notNull)
      // 'running' | 'succeeded' | 'failed'
      .addColumn('status', 'text', notNull)
      .addColumn('started_at', t.bigint, notNull)
      .addColumn('finished_at', t.bigint)
      .addColumn('deleted', 'integer', notNull)
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('retention_runs_by_scope').on('retention_runs').columns(['scope', 'started_at']).execute();
  },
};
