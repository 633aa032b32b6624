import { sql } from 'kysely';
import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';
import { createRepositorySearch, shortNameSql } from '../full-text.js';

/** Index manifests and image configs, as of this migration: what makes a repository hold images. */
const IMAGE_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
];


/**
 * What a repository page shows.
 * - Registry side, kept by the index in the push transaction: per manifest its details
 *   (platform, size, created, description, content type, an index's platforms, a config's
 *   history), computed once at push; who pushed each tag; a repository's last push and whether it
 *   holds images or only artifacts.
 * - Hub side: short and full descriptions, categories (a list administrators keep), stars (with
 *   `star_count` kept on the repository so that ordering by it is an index scan, as `pull_count`
 *   is), pulls per repository per day, and the full-text index (metadata/full-text.ts).
 */
export const repositoryPages: Migration = {
  name: '006-repository-pages',
  async up(db, t) {
    await db.schema.alterTable('repositories').addColumn('last_pushed_at', t.bigint).execute();
    // 'image' (images or indexes), 'artifact' (manifests, none of them an image), null (none)
    await db.schema.alterTable('repositories').addColumn('kind', 'text').execute();
    await db.schema.createIndex('repositories_last_pushed').on('repositories').column('last_pushed_at').execute();
    // what the index keeps from now on, for what was pushed before (the rule: metadata/registry-index.ts)
    await sql`update repositories set last_pushed_at = (select max(m.created_at) from manifests m where m.repository = repositories.name),
      kind = case
        when exists (select 1 from manifests m where m.repository = repositories.name and (m.media_type in (${sql.join(IMAGE_TYPES)}) or m.artifact_type in (${sql.join(IMAGE_TYPES)}))) then 'image'
        when exists (select 1 from manifests m where m.repository = repositories.name) then 'artifact'
        else null end`.execute(db);

    // last_updater_username; null for tags pushed before it was recorded
    await db.schema.alterTable('tags').addColumn('pushed_by', t.key).execute();
    await db.schema.createIndex('tags_updated').on('tags').columns(['repository', 'updated_at']).execute();

    await db.schema
      .createTable('manifest_details')
      .addColumn('repository', t.key, notNull)
      .addColumn('digest', t.key, notNull)
      .addColumn('content_type', 'text', notNull)
      .addColumn('size', t.bigint, notNull)
      .addColumn('config_digest', t.key)
      .addColumn('os', 'text')
      .addColumn('architecture', 'text')
      .addColumn('variant', 'text')
      .addColumn('created', t.bigint)
      .addColumn('description', 'text')
      // JSON: an index's platforms [{digest, os, architecture, variant, size, pushed_at}]
      .addColumn('platforms', 'text')
      // JSON: an image config's history [{created_by, empty_layer}]
      .addColumn('history', 'text')
      .addPrimaryKeyConstraint('manifest_details_pk', ['repository', 'digest'])
      .execute();

    // what lists filter, sort and show stays on the row, small; the README has a table of its own
    await db.schema.alterTable('hub_repositories').addColumn('star_count', t.bigint, (c) => c.notNull().defaultTo(0)).execute();
    // repository_pulls.pulls, written in the same transaction: the sort key of "most pulled"
    await db.schema.alterTable('hub_repositories').addColumn('pull_count', t.bigint, (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('hub_repositories').addColumn('description', 'text', (c) => c.notNull().defaultTo('')).execute();
    // the slugs and names of its categories, for the full-text index (repository_categories is the record)
    await db.schema.alterTable('hub_repositories').addColumn('categories', 'text', (c) => c.notNull().defaultTo('')).execute();
    await db.schema
      .createTable('repository_readmes')
      .addColumn('repository', t.key, (c) => c.primaryKey())
      .addColumn('content', 'text', notNull)
      .addColumn('updated_at', t.bigint, notNull)
      .execute();
    // a namespace's repositories in name order, and "visible to this subject" over every row,
    // both from the index alone (it holds what the predicate reads: hub/visibility.ts)
    await db.schema.dropIndex('hub_repositories_namespace').execute();
    await db.schema.createIndex('hub_repositories_namespace_name').on('hub_repositories').columns(['namespace', 'name', 'private']).execute();
    // "most pulled" and "most starred" read these backwards (ties: name, descending)
    await db.schema.createIndex('hub_repositories_pull_count').on('hub_repositories').columns(['pull_count', 'name']).execute();
    await db.schema.createIndex('hub_repositories_star_count').on('hub_repositories').columns(['star_count', 'name']).execute();
    await db.schema.createIndex('hub_repositories_short_name').on('hub_repositories').expression(shortNameSql()).execute();
    // every repository the registry holds has its hub row (pushed before the hub kept them: public)
    const unknown = await db
      .selectFrom('repositories as r')
      .select(['r.name', 'r.created_at'])
      .where((eb) => eb.not(eb.exists(eb.selectFrom('hub_repositories as h').select('h.name').whereRef('h.name', '=', 'r.name'))))
      .execute();
    for (let i = 0; i < unknown.length; i += 500) {
      const rows = unknown.slice(i, i + 500).map((r) => ({ name: r.name, namespace: r.name.slice(0, r.name.indexOf('/')), private: 0, created_at: r.created_at }));
      await db.insertInto('hub_repositories').values(rows).execute();
    }
    await sql`update hub_repositories set pull_count = coalesce((select p.pulls from repository_pulls p where p.repository = hub_repositories.name), 0)`.execute(db);

    await db.schema
      .createTable('categories')
      .addColumn('slug', t.key, (c) => c.primaryKey())
      .addColumn('name', 'text', notNull)
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', t.bigint, notNull)
      .execute();
    // the default list (Docker Hub's) is written by the hub when the table is empty, as plans are

    await db.schema
      .createTable('repository_categories')
      .addColumn('repository', t.key, notNull)
      .addColumn('category', t.key, notNull)
      .addPrimaryKeyConstraint('repository_categories_pk', ['repository', 'category'])
      .execute();
    await db.schema.createIndex('repository_categories_category').on('repository_categories').columns(['category', 'repository']).execute();

    await db.schema
      .createTable('stars')
      .addColumn('account', t.key, notNull)
      .addColumn('repository', t.key, notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('stars_pk', ['account', 'repository'])
      .execute();
    await db.schema.createIndex('stars_repository').on('stars').column('repository').execute();
    await db.schema.createIndex('stars_account_created').on('stars').columns(['account', 'created_at']).execute();

    // day: days since 1970-01-01 (UTC)
    await db.schema
      .createTable('repository_pull_days')
      .addColumn('repository', t.key, notNull)
      .addColumn('day', t.bigint, notNull)
      .addColumn('pulls', t.bigint, notNull)
      .addPrimaryKeyConstraint('repository_pull_days_pk', ['repository', 'day'])
      .execute();
    await db.schema.createIndex('repository_pull_days_day').on('repository_pull_days').column('day').execute();

    await createRepositorySearch(db, t);
  },
};
