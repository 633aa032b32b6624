import type { Migration } from '../dialect.js';

/**
 * Who pays for an organisation: `billed_to` names the account whose plan's allowance it draws on
 * (private repositories, storage, seats and features, counted across that account's namespace
 * and every organisation billed to it). Null: the account is billed to itself (every user, an
 * organisation an administrator granted a plan of its own, and the official images).
 *
 * Organisations created before this migration on the default plan get the allowance of their
 * first owner, as new ones get their creator's: otherwise each would keep a free allowance of its
 * own, which is the escape this closes. One granted another plan keeps it, billed to itself.
 */
export const hardeningAccounts: Migration = {
  name: '004-hardening-accounts',
  async up(db, t) {
    await db.schema.alterTable('accounts').addColumn('billed_to', t.key).execute();
    await db.schema.createIndex('accounts_billed_to').on('accounts').column('billed_to').execute();
    await db
      .updateTable('accounts')
      .set((eb) => ({
        billed_to: eb
          .selectFrom('organization_members as m')
          .select('m.account')
          .whereRef('m.organization', '=', 'accounts.name')
          .where('m.role', '=', 'owner')
          .orderBy('m.created_at')
          .orderBy('m.account')
          .limit(1),
      }))
      .where('kind', '=', 'organization')
      .where('name', '<>', 'library')
      .where('plan', '=', 'free')
      .where('deleted_at', 'is', null)
      .execute();
  },
};
