import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Immutable tags (docs/immutable-tags.md): per repository, the tag patterns whose tags a push may
 * create but never move, and no one may delete. A pattern is a glob (`v*`, `release-?`) or a
 * regular expression between slashes (`/^v\d+\.\d+$/`).
 */
export const immutableTags: Migration = {
  name: '013-immutable-tags',
  async up(db, t) {
    await db.schema
      .createTable('immutable_tag_rules')
      .addColumn('repository', t.key, notNull)
      .addColumn('pattern', t.key, notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('created_by', 'text')
      .addPrimaryKeyConstraint('immutable_tag_rules_pk', ['repository', 'pattern'])
      .execute();
  },
};
