import type { Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import { namespaceOf } from './account-names.js';
import { HubError } from './errors.js';

export interface RepositoryVisibility {
  exists: boolean;
  private: boolean;
}

/** The hub's side of a repository: its namespace and whether it is private. */
export class RepositoryService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** A repository pushed before the hub knew it (open mode) exists and is public. */
  async visibility(name: string): Promise<RepositoryVisibility> {
    const row = await this.db.selectFrom('hub_repositories').select('private').where('name', '=', name).executeTakeFirst();
    if (row) return { exists: true, private: Number(row.private) === 1 };
    const registry = await this.db.selectFrom('repositories').select('name').where('name', '=', name).executeTakeFirst();
    return { exists: registry !== undefined, private: false };
  }

  /** Creates the hub's row on first push, with the namespace owner's default visibility. */
  async ensure(name: string): Promise<void> {
    const namespace = namespaceOf(name);
    const owner = await this.db.selectFrom('accounts').select('default_private').where('name', '=', namespace).executeTakeFirst();
    await this.db
      .insertInto('hub_repositories')
      .values({ name, namespace, private: owner ? Number(owner.default_private) : 0, created_at: this.clock.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async setVisibility(name: string, isPrivate: boolean): Promise<void> {
    const { exists } = await this.visibility(name);
    if (!exists) throw new HubError('not_found', `no repository "${name}"`);
    await this.ensure(name);
    await this.db.updateTable('hub_repositories').set({ private: isPrivate ? 1 : 0 }).where('name', '=', name).execute();
  }

  /** Names of the private repositories among `names`, in one query. */
  async privateAmong(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.db.selectFrom('hub_repositories').select('name').where('name', 'in', names).where('private', '=', 1).execute();
    return new Set(rows.map((r) => r.name));
  }

  async forgetNamespace(namespace: string): Promise<void> {
    await this.db.deleteFrom('hub_repositories').where('namespace', '=', namespace).execute();
  }
}
