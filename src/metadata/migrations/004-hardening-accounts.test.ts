// Migration 004 on an installation migrated by the previous version: organisations on the default
// plan are billed to their first owner (as new ones are to their creator), the others to themselves.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';
import { migrateOnly, unmigratedDatabases } from './migrations.testing.js';

/** What the version that shipped `last` applied: the migrations up to it. */
const migrateTo = (db: Kysely<any>, dialect: DialectName, last: string, schema?: string) =>
  migrateOnly(db, dialect, (all) => all.slice(0, all.findIndex((m) => m.name === last) + 1), schema);

for (const { name, options, open } of await unmigratedDatabases()) {
  describe(`migration 004-hardening-accounts: ${name}`, options, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('bills the organisations on the default plan to their first owner, and the others to themselves', async () => {
      const { database, schema, drop } = await open();
      cleanups.push(async () => {
        await drop();
        await database.close();
      });
      const db = database.db as unknown as Kysely<any>;
      await migrateTo(db, name, '003-organizations-plans', schema);
      const account = (row: Record<string, unknown>) => ({ email: null, password_hash: null, is_admin: 0, default_private: 0, created_at: 1, password_changed_at: 1, deleted_at: null, kind: 'user', plan: 'free', ...row });
      await db
        .insertInto('accounts')
        .values([
          account({ name: 'olive', password_hash: 'x' }),
          account({ name: 'mark', password_hash: 'x' }),
          account({ name: 'acme', kind: 'organization' }),
          account({ name: 'globex', kind: 'organization', plan: 'team' }),
          account({ name: 'gone', kind: 'organization', deleted_at: 5 }),
          account({ name: 'library', kind: 'organization' }),
        ])
        .execute();
      await db
        .insertInto('organization_members')
        .values([
          { organization: 'acme', account: 'mark', role: 'member', created_at: 1 },
          { organization: 'acme', account: 'olive', role: 'owner', created_at: 2 },
          { organization: 'acme', account: 'zed', role: 'owner', created_at: 3 },
          { organization: 'globex', account: 'mark', role: 'owner', created_at: 1 },
          { organization: 'library', account: 'mark', role: 'member', created_at: 1 },
        ])
        .execute();

      await migrateTo(db, name, '004-hardening-accounts', schema);
      const rows = await db.selectFrom('accounts').select(['name', 'billed_to']).orderBy('name').execute();
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.billed_to])), {
        acme: 'olive',
        globex: null,
        gone: null,
        library: null,
        mark: null,
        olive: null,
      });
    });
  });
}
