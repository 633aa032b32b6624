import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * Browser sessions: what the `pier_session` cookie of the web UI stands for. A row per sign-in,
 * so that a session is listed, revoked at once, and expires when idle as well as at a fixed end.
 * Only a SHA-256 of the cookie's secret is kept.
 */
export const browserSessions: Migration = {
  name: '005-browser-sessions',
  async up(db, t) {
    await db.schema
      .createTable('browser_sessions')
      .addColumn('id', t.key, (c) => c.primaryKey())
      .addColumn('account', t.key, notNull)
      .addColumn('secret_hash', t.key, (c) => c.notNull().unique())
      .addColumn('user_agent', 'text')
      .addColumn('created_at', t.bigint, notNull)
      // the idle expiry counts from here (written at most once a minute)
      .addColumn('last_used_at', t.bigint, notNull)
      // the absolute expiry: a session never outlives it, however busy
      .addColumn('expires_at', t.bigint, notNull)
      .addColumn('revoked_at', t.bigint)
      .execute();
    await db.schema.createIndex('browser_sessions_account').on('browser_sessions').column('account').execute();
  },
};
