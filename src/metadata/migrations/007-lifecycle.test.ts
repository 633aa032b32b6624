// Migration 007 on an installation that the previous version migrated, with 009 already applied:
// migrations numbered below the last one applied run (a release that adds 007 after one that
// shipped 009), and the registry's rows stay as they were.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { migrate } from '../database.js';
import type { DialectName } from '../dialect.js';
import { migrateOnly, unmigratedDatabases } from './migrations.testing.js';

/** What the previous version applied: every migration but 007. */
const migrateWithout = (db: Kysely<any>, dialect: DialectName, skipped: string, schema?: string) =>
  migrateOnly(db, dialect, (all) => all.filter((m) => m.name !== skipped), schema);

for (const { name, options, open } of await unmigratedDatabases()) {
  describe(`migration 007-lifecycle: ${name}`, options, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('runs after 009 on an installation that has it, and keeps the blobs as they were', async () => {
      const { database, schema, drop } = await open();
      cleanups.push(async () => {
        await drop();
        await database.close();
      });
      const db = database.db as unknown as Kysely<any>;
      await migrateWithout(db, name, '007-lifecycle', schema);
      await db.insertInto('blobs').values({ digest: 'sha256:aa', size: 3, created_at: 1 }).execute();
      await migrate(database.db, name, schema);
      assert.deepEqual(await db.selectFrom('blobs').select(['digest', 'deleting_at']).execute(), [{ digest: 'sha256:aa', deleting_at: null }]);
      assert.deepEqual(await db.selectFrom('gc_runs').selectAll().execute(), []);
    });
  });
}
