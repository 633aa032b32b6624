import { sql, type Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';

/**
 * Stars: who starred what (`stars`), and `hub_repositories.star_count`, changed in the same
 * transaction, so that ordering by stars is an index scan and never a count. Whether the caller
 * may see the repository is decided before (RepositoryPages.require).
 */
export class StarService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** Stars a repository; starring it again changes nothing. */
  async star(account: string, repository: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('stars')
        .values({ account, repository, created_at: this.clock.now() })
        .onConflict((oc) => oc.columns(['account', 'repository']).doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return;
      await trx.updateTable('hub_repositories').set({ star_count: sql`star_count + 1` }).where('name', '=', repository).execute();
    });
  }

  /** Removes a star; unstarring what was not starred changes nothing. */
  async unstar(account: string, repository: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('stars').where('account', '=', account).where('repository', '=', repository).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return;
      await trx.updateTable('hub_repositories').set({ star_count: sql`star_count - 1` }).where('name', '=', repository).execute();
    });
  }

  /** Which of `repositories` the account starred. */
  async starredAmong(account: string, repositories: readonly string[]): Promise<Set<string>> {
    const starred = new Set<string>();
    for (let i = 0; i < repositories.length; i += 500) {
      const rows = await this.db
        .selectFrom('stars')
        .select('repository')
        .where('account', '=', account)
        .where('repository', 'in', repositories.slice(i, i + 500))
        .execute();
      for (const row of rows) starred.add(row.repository);
    }
    return starred;
  }

  /** An account deleted: its stars go, and the counts of what it starred go down. */
  async forgetAccount(account: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('stars').select('repository').where('account', '=', account).orderBy('repository').execute();
      for (const { repository } of rows) {
        await trx.updateTable('hub_repositories').set({ star_count: sql`star_count - 1` }).where('name', '=', repository).execute();
      }
      await trx.deleteFrom('stars').where('account', '=', account).execute();
    });
  }
}
