import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/** Accounts, their credentials, repository visibility, signing keys and hub settings. */
export const accounts: Migration = {
  name: '002-accounts',
  async up(db, t) {
    // A deleted account keeps its row (deleted_at set): its name stays reserved forever.
    await db.schema
      .createTable('accounts')
      .addColumn('name', t.key, (c) => c.primaryKey())
      .addColumn('email', 'text')
      .addColumn('password_hash', 'text')
      .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('default_private', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('password_changed_at', t.bigint, notNull)
      .addColumn('deleted_at', t.bigint)
      .execute();

    // Personal access tokens: only a SHA-256 of the secret is kept.
    await db.schema
      .createTable('access_tokens')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('account', t.key, notNull)
      .addColumn('label', 'text', notNull)
      .addColumn('token_hash', t.key, (c) => c.notNull().unique())
      .addColumn('scopes', 'text', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('expires_at', t.bigint)
      .addColumn('last_used_at', t.bigint)
      .addColumn('revoked_at', t.bigint)
      .execute();
    await db.schema.createIndex('access_tokens_account').on('access_tokens').column('account').execute();

    // Refresh tokens: what `docker login` keeps as its identity token. Long-lived, revocable.
    await db.schema
      .createTable('refresh_tokens')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('account', t.key, notNull)
      .addColumn('token_hash', t.key, (c) => c.notNull().unique())
      .addColumn('client_id', 'text')
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('last_used_at', t.bigint)
      .addColumn('revoked_at', t.bigint)
      .execute();
    await db.schema.createIndex('refresh_tokens_account').on('refresh_tokens').column('account').execute();

    // The hub's view of a repository: who owns the namespace decides, visibility is per repository.
    await db.schema
      .createTable('hub_repositories')
      .addColumn('name', t.key, (c) => c.primaryKey())
      .addColumn('namespace', t.key, notNull)
      .addColumn('private', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', t.bigint, notNull)
      .execute();
    await db.schema.createIndex('hub_repositories_namespace').on('hub_repositories').column('namespace').execute();

    // JWT signing keys, shared by every replica; private keys encrypted with the installation secret.
    await db.schema
      .createTable('signing_keys')
      .addColumn('kid', t.key, (c) => c.primaryKey())
      .addColumn('algorithm', 'text', notNull)
      .addColumn('public_jwk', 'text', notNull)
      .addColumn('private_jwk_encrypted', 'text', notNull)
      .addColumn('created_at', t.bigint, notNull)
      .addColumn('retired_at', t.bigint)
      .execute();

    await db.schema
      .createTable('settings')
      .addColumn('key', t.key, (c) => c.primaryKey())
      .addColumn('value', 'text', notNull)
      .execute();
  },
};
