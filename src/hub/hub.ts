import type { Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import type { Registry } from '../registry/registry.js';
import { AccountService } from './accounts.js';
import { HubAccessPolicy } from './access-policy.js';
import { HubError } from './errors.js';
import { HubPushGate } from './push-gate.js';
import { RepositoryService } from './repositories.js';
import { HubSettings } from './settings.js';
import { TokenService } from './tokens.js';

/** The product on top of the registry: accounts, credentials, visibility, and the ports it plugs in. */
export class Hub {
  readonly accounts: AccountService;
  readonly tokens: TokenService;
  readonly repositories: RepositoryService;
  readonly settings: HubSettings;
  readonly policy: HubAccessPolicy;
  readonly pushGate: HubPushGate;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.accounts = new AccountService(db, clock);
    this.tokens = new TokenService(db, this.accounts, clock);
    this.repositories = new RepositoryService(db, clock);
    this.settings = new HubSettings(db);
    this.policy = new HubAccessPolicy(this.repositories, this.settings);
    this.pushGate = new HubPushGate(this.repositories);
  }

  /** Deletes an account with its repositories; its name stays reserved. */
  async deleteAccount(name: string, registry: Registry): Promise<{ repositories: string[] }> {
    if (!(await this.accounts.markDeleted(name))) throw new HubError('not_found', `no account "${name}"`);
    await this.tokens.revokeAll(name);
    const repositories = await registry.deleteNamespace(name);
    await this.repositories.forgetNamespace(name);
    return { repositories };
  }
}
