import type { Kysely } from 'kysely';
import { appendOutbox } from '../metadata/outbox.js';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import { namespaceOf } from '../oci/names.js';
import { HubError } from './errors.js';
import { checkDescriptions } from './repository-pages.js';
import type { NamespaceLimits } from './usage.js';

export interface RepositoryVisibility {
  exists: boolean;
  private: boolean;
}

/**
 * The hub's side of a repository: its namespace and whether it is private. Becoming private
 * (created so through the API, by a first push into a namespace whose default is private, or made
 * so) counts against the namespace's plan: counted after the change, and undone when over, so that
 * two requests at once cannot both slip under the limit.
 */
export class RepositoryService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    /** the plan limits a private repository must stay within (none: no plans apply) */
    private readonly limits?: Pick<NamespaceLimits, 'checkPrivateCount'>,
  ) {}

  /** A repository pushed before the hub knew it (open mode) exists and is public. */
  async visibility(name: string): Promise<RepositoryVisibility> {
    const row = await this.db.selectFrom('hub_repositories').select('private').where('name', '=', name).executeTakeFirst();
    if (row) return { exists: true, private: Number(row.private) === 1 };
    const registry = await this.db.selectFrom('repositories').select('name').where('name', '=', name).executeTakeFirst();
    return { exists: registry !== undefined, private: false };
  }

  /**
   * Creates the hub's row on first push, with the namespace owner's default visibility. A private
   * repository over the namespace's plan is not created: HubError 'plan_limit' names the limit.
   */
  async ensure(name: string): Promise<{ created: boolean; private: boolean }> {
    const existing = await this.row(name);
    if (existing) return existing;
    return this.insert(name, 'default');
  }

  /** A repository created before its first push (the API). */
  async create(name: string, isPrivate: boolean): Promise<void> {
    if ((await this.visibility(name)).exists) throw new HubError('conflict', `the repository "${name}" exists`);
    const { created } = await this.insert(name, isPrivate);
    if (!created) throw new HubError('conflict', `the repository "${name}" exists`);
  }

  /** Makes a repository public or private, with a 'repository.visibility' event (`actor`: who did it). */
  async setVisibility(name: string, isPrivate: boolean, actor?: string): Promise<void> {
    const { exists } = await this.visibility(name);
    if (!exists) throw new HubError('not_found', `no repository "${name}"`);
    const current = (await this.row(name)) ?? (await this.insert(name, isPrivate));
    if (current.created || current.private === isPrivate) return;
    const namespace = namespaceOf(name);
    // the change and its event in one transaction (the outbox: webhooks, the audit trail)
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('hub_repositories').set({ private: isPrivate ? 1 : 0 }).where('name', '=', name).execute();
      await appendOutbox(trx, { type: 'repository.visibility', payload: { repository: name, namespace, private: isPrivate, actor: actor ?? null } }, this.clock.now());
    });
    if (!isPrivate) return;
    try {
      await this.limits?.checkPrivateCount(namespace);
    } catch (error) {
      // undone, and said so: a receiver that saw it made private sees it public again
      await this.db.transaction().execute(async (trx) => {
        await trx.updateTable('hub_repositories').set({ private: 0 }).where('name', '=', name).execute();
        await appendOutbox(trx, { type: 'repository.visibility', payload: { repository: name, namespace, private: false, actor: actor ?? null, reason: 'plan limit' } }, this.clock.now());
      });
      throw error;
    }
  }

  /** Names of the private repositories among `names`, in one query. */
  async privateAmong(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.db.selectFrom('hub_repositories').select('name').where('name', 'in', names).where('private', '=', 1).execute();
    return new Set(rows.map((r) => r.name));
  }

  /** Changes the short description (one line, at most 100 characters) and the README (Markdown, at most 25 KB). */
  async describe(name: string, change: { description?: string; fullDescription?: string }): Promise<void> {
    checkDescriptions(change);
    const { description, fullDescription } = change;
    await this.db.transaction().execute(async (trx) => {
      // the row is written even without a new description: it locks it, and says whether it exists
      const result = await trx
        .updateTable('hub_repositories')
        .$if(description === undefined, (q) => q.set((eb) => ({ star_count: eb.ref('star_count') })))
        .$if(description !== undefined, (q) => q.set({ description: description! }))
        .where('name', '=', name)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw new HubError('not_found', `no repository "${name}"`);
      if (fullDescription === undefined) return;
      if (fullDescription === '') {
        await trx.deleteFrom('repository_readmes').where('repository', '=', name).execute();
        return;
      }
      const now = this.clock.now();
      await trx
        .insertInto('repository_readmes')
        .values({ repository: name, content: fullDescription, updated_at: now })
        .onConflict((oc) => oc.column('repository').doUpdateSet({ content: fullDescription, updated_at: now }))
        .execute();
    });
  }

  /** A namespace deleted: what the hub kept of its repositories goes (the registry deletes the rest). */
  async forgetNamespace(namespace: string): Promise<void> {
    const names = (await this.db.selectFrom('hub_repositories').select('name').where('namespace', '=', namespace).execute()).map((r) => r.name);
    await this.forget(names);
    await this.db.deleteFrom('retention_policies').where('scope', '=', 'namespace').where('target', '=', namespace).execute();
  }

  /**
   * Repositories deleted: their hub rows, stars, categories and pull statistics go, with a
   * 'repository.deleted' event each, in one transaction per batch.
   */
  async forget(names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length; i += 500) {
      const batch = names.slice(i, i + 500);
      await this.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('stars').where('repository', 'in', batch).execute();
        await trx.deleteFrom('repository_categories').where('repository', 'in', batch).execute();
        await trx.deleteFrom('repository_pull_days').where('repository', 'in', batch).execute();
        await trx.deleteFrom('repository_readmes').where('repository', 'in', batch).execute();
        await trx.deleteFrom('immutable_tag_rules').where('repository', 'in', batch).execute();
        await trx.deleteFrom('retention_policies').where('scope', '=', 'repository').where('target', 'in', batch).execute();
        await trx.deleteFrom('tag_pulls').where('repository', 'in', batch).execute();
        await trx.deleteFrom('repository_pulls').where('repository', 'in', batch).execute();
        const deleted = await trx.deleteFrom('hub_repositories').where('name', 'in', batch).returning('name').execute();
        for (const { name } of deleted) {
          await appendOutbox(trx, { type: 'repository.deleted', payload: { repository: name, namespace: namespaceOf(name) } }, this.clock.now());
        }
      });
    }
  }

  private async row(name: string): Promise<{ created: false; private: boolean } | undefined> {
    const row = await this.db.selectFrom('hub_repositories').select('private').where('name', '=', name).executeTakeFirst();
    return row && { created: false, private: Number(row.private) === 1 };
  }

  /**
   * The hub's row of a new repository, private or public or as its namespace's owner set by
   * default. Nothing is ever created under a deleted account's namespace: whatever credential a
   * push still holds, the name stays reserved and empty (HubError 'forbidden').
   */
  private async insert(name: string, visibility: boolean | 'default'): Promise<{ created: boolean; private: boolean }> {
    const namespace = namespaceOf(name);
    const owner = await this.db.selectFrom('accounts').select(['default_private', 'deleted_at']).where('name', '=', namespace).executeTakeFirst();
    if (owner && owner.deleted_at !== null) throw deletedNamespace(namespace);
    const isPrivate = visibility === 'default' ? Number(owner?.default_private ?? 0) === 1 : visibility;
    const now = this.clock.now();
    const payload = { repository: name, namespace, private: isPrivate };
    // the row and its event in one transaction (the outbox): a crash between them loses nothing
    const created = await this.db.transaction().execute(async (trx) => {
      if (owner) {
        // the owner's row, written: a deletion (which writes it too) waits for this row to be in,
        // and then removes it with the namespace, or this waits for the deletion and creates nothing
        const live = await trx
          .updateTable('accounts')
          .set((eb) => ({ kind: eb.ref('kind') }))
          .where('name', '=', namespace)
          .where('deleted_at', 'is', null)
          .executeTakeFirst();
        if (Number(live.numUpdatedRows) === 0) throw deletedNamespace(namespace);
      }
      const result = await trx
        .insertInto('hub_repositories')
        .values({ name, namespace, private: isPrivate ? 1 : 0, created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
      await appendOutbox(trx, { type: 'repository.created', payload }, now);
      return true;
    });
    // another request created it meanwhile: its visibility stands
    if (!created) return (await this.row(name)) ?? { created: false, private: isPrivate };
    if (isPrivate) {
      try {
        await this.limits?.checkPrivateCount(namespace);
      } catch (error) {
        await this.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('hub_repositories').where('name', '=', name).execute();
          await appendOutbox(trx, { type: 'repository.deleted', payload: { ...payload, reason: 'plan limit' } }, this.clock.now());
        });
        throw error;
      }
    }
    return { created: true, private: isPrivate };
  }
}

function deletedNamespace(namespace: string): HubError {
  return new HubError('forbidden', `the namespace "${namespace}" was deleted: nothing can be created in it`);
}
