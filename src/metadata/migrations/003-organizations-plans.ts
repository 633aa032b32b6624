import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Organisations and teams, plans and their limits, pull statistics and the outbox; upload claims
 * that name their holder.
 * An organisation is a namespace like a user: a row of `accounts` with kind 'organization' and no
 * password, so that one name table keeps users and organisations from ever sharing a name.
 */
export const organizationsAndPlans: Migration = {
  name: '003-organizations-plans',
  async up(db, t) {
    // an upload claim names its holder, so a writer whose claim was taken over can change nothing
    await db.schema.alterTable('uploads').addColumn('claim', 'text').execute();

    await db.schema.alterTable('accounts').addColumn('kind', 'text', (c) => c.notNull().defaultTo('user')).execute();
    await db.schema.alterTable('accounts').addColumn('verified_publisher', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('accounts').addColumn('plan', t.key, (c) => c.notNull().defaultTo('free')).execute();

    // role: 'owner' | 'member'; an organisation always keeps one owner
    await db.schema
      .createTable('organization_members')
      .addColumn('organization', t.key, notNull)
      .addColumn('account', t.key, notNull)
      .addColumn('role', 'text', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('organization_members_pk', ['organization', 'account'])
      .execute();
    await db.schema.createIndex('organization_members_account').on('organization_members').column('account').execute();

    await db.schema
      .createTable('teams')
      .addColumn('organization', t.key, notNull)
      .addColumn('name', t.key, notNull)
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', t.bigint, notNull)
      .addPrimaryKeyConstraint('teams_pk', ['organization', 'name'])
      .execute();

    await db.schema
      .createTable('team_members')
      .addColumn('organization', t.key, notNull)
      .addColumn('team', t.key, notNull)
      .addColumn('account', t.key, notNull)
      .addPrimaryKeyConstraint('team_members_pk', ['organization', 'team', 'account'])
      .execute();
    await db.schema.createIndex('team_members_account').on('team_members').column('account').execute();

    // permission: 'read' | 'write' | 'admin'; repository '*' means every repository of the organisation
    await db.schema
      .createTable('team_permissions')
      .addColumn('organization', t.key, notNull)
      .addColumn('team', t.key, notNull)
      .addColumn('repository', t.key, notNull)
      .addColumn('permission', 'text', notNull)
      .addPrimaryKeyConstraint('team_permissions_pk', ['organization', 'team', 'repository'])
      .execute();

    // organisation access tokens are access_tokens owned by the organisation, limited to repositories
    // (a JSON array of names; null: every repository the owner has)
    await db.schema.alterTable('access_tokens').addColumn('repositories', 'text').execute();

    // Limits: null means unlimited. features: a JSON array of feature names.
    await db.schema
      .createTable('plans')
      .addColumn('name', t.key, (c) => c.primaryKey())
      .addColumn('title', 'text', notNull)
      .addColumn('price_label', 'text', notNull)
      .addColumn('private_repositories', t.bigint)
      .addColumn('storage_bytes', t.bigint)
      .addColumn('pulls_per_window', t.bigint)
      .addColumn('pull_window_seconds', t.bigint, notNull)
      .addColumn('seats', t.bigint)
      .addColumn('features', 'text', notNull)
      .addColumn('position', 'integer', notNull)
      .execute();
    // the default plans (free, pro, team) are written by the hub at start when the table is empty

    await db.schema
      .createTable('repository_pulls')
      .addColumn('repository', t.key, (c) => c.primaryKey())
      .addColumn('pulls', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('last_pulled_at', t.bigint)
      .execute();
    await db.schema
      .createTable('tag_pulls')
      .addColumn('repository', t.key, notNull)
      .addColumn('tag', t.key, notNull)
      .addColumn('pulls', t.bigint, (c) => c.notNull().defaultTo(0))
      .addColumn('last_pulled_at', t.bigint)
      .addPrimaryKeyConstraint('tag_pulls_pk', ['repository', 'tag'])
      .execute();

    // Events that must not be lost (repository created, manifest pushed or deleted), written in the
    // transaction of the change they describe and delivered from here.
    await db.schema
      .createTable('outbox')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('type', 'text', notNull)
      .addColumn('payload', 'text', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('delivered_at', t.bigint)
      .execute();
    await db.schema.createIndex('outbox_pending').on('outbox').columns(['delivered_at', 'created_at']).execute();
  },
};
