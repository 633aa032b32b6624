import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

export const registryIndex: Migration = {
  name: '001-registry',
  async up(db, t) {
    await db.schema
      .createTable('repositories')
      .addColumn('name', t.key, (c) => c.primaryKey())
      .addColumn('created_at', t.bigint, notNull)
      .execute();

    await db.schema
      .createTable('blobs')
      .addColumn('digest', t.key, (c) => c.primaryKey())
      .addColumn('size', t.bigint, notNull)
      .addColumn('created_at', t.bigint, notNull)
      .execute();

    await db.schema
      .createTable('blob_links')
      .addColumn('repository', t.key, notNull)
      .addColumn('digest', t.key, notNull)
      .addColumn('linked_at', t.bigint, notNull)
      .addColumn('last_seen_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('blob_links_pk', ['repository', 'digest'])
      .execute();
    await db.schema.createIndex('blob_links_digest').on('blob_links').column('digest').execute();

    await db.schema
      .createTable('manifests')
      .addColumn('repository', t.key, notNull)
      .addColumn('digest', t.key, notNull)
      .addColumn('media_type', 'text', notNull)
      .addColumn('size', t.bigint, notNull)
      .addColumn('content', t.binary, notNull)
      .addColumn('artifact_type', 'text')
      .addColumn('subject', t.key)
      .addColumn('annotations', 'text')
      .addColumn('created_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('manifests_pk', ['repository', 'digest'])
      .execute();
    await db.schema.createIndex('manifests_subject').on('manifests').columns(['repository', 'subject']).execute();

    await db.schema
      .createTable('manifest_references')
      .addColumn('repository', t.key, notNull)
      .addColumn('manifest_digest', t.key, notNull)
      .addColumn('digest', t.key, notNull)
      .addColumn('kind', 'text', notNull)
      .addPrimaryKeyConstraint('manifest_references_pk', ['repository', 'manifest_digest', 'digest', 'kind'])
      .execute();
    await db.schema
      .createIndex('manifest_references_digest')
      .on('manifest_references')
      .columns(['repository', 'digest'])
      .execute();

    await db.schema
      .createTable('tags')
      .addColumn('repository', t.key, notNull)
      .addColumn('name', t.key, notNull)
      .addColumn('digest', t.key, notNull)
      .addColumn('updated_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('tags_pk', ['repository', 'name'])
      .execute();
    await db.schema.createIndex('tags_digest').on('tags').columns(['repository', 'digest']).execute();

    await db.schema
      .createTable('uploads')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('repository', t.key, notNull)
      .addColumn('size', t.bigint, notNull)
      .addColumn('sha256', 'text', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('updated_at', t.bigint, notNull)
      .addColumn('locked_until', t.bigint)
      .execute();
    await db.schema.createIndex('uploads_updated_at').on('uploads').column('updated_at').execute();
  },
};
