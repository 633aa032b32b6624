import type { Kysely } from 'kysely';
import type { SecretBox } from '../auth/sealed-secret.js';
import { dialectOf, type DialectName } from '../metadata/dialect.js';
import type { Database } from '../metadata/schema.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import type { Clock } from '../registry/ports.js';
import type { Registry } from '../registry/registry.js';
import { AccountService } from './accounts.js';
import { AccountStanding } from './account-standing.js';
import { AuditLog } from './audit.js';
import { HubAccessPolicy } from './access-policy.js';
import { BrowserSessionService } from './browser-sessions.js';
import { CategoryService } from './categories.js';
import { HubError } from './errors.js';
import { OrganizationService } from './organizations.js';
import { OutboxDispatcher } from './outbox.js';
import { PlanService, type PlanFeature } from './plans.js';
import { ProxyService } from './proxies.js';
import { PullStats } from './pull-stats.js';
import { HubPushGate } from './push-gate.js';
import { TagImmutability } from './tag-immutability.js';
import { RepositoryService } from './repositories.js';
import { RetentionService } from './retention/retention.js';
import { RepositoryPages } from './repository-pages.js';
import { SearchService } from './search.js';
import { HubSettings } from './settings.js';
import { StarService } from './stars.js';
import { TagPages } from './tag-pages.js';
import { TeamService } from './teams.js';
import { TokenService } from './tokens.js';
import { NamespaceLimits, NamespaceUsage } from './usage.js';

/** What organisations need of a plan: its seats and features (PlanService.planOf answers it). */
interface PlanLimits {
  name: string;
  seats: number | null;
  features: string[];
}

export interface HubOptions {
  /** seals and opens credentials of other registries (the installation secret, read on first use) */
  secrets?: () => Promise<SecretBox>;
  /** the proxy namespace that serves names which do not exist here (Pier as a Docker registry mirror) */
  mirrorNamespace?: string;
  /** the database's dialect (default: the one `db` was opened with) */
  dialect?: DialectName;
  /** changes when another process wrote the database (SQLite's data_version): what the hub remembers is then read again */
  databaseChanges?: () => unknown;
}

/** The product on top of the registry: accounts, credentials, visibility, and the ports it plugs in. */
export class Hub {
  readonly accounts: AccountService;
  readonly tokens: TokenService;
  /** the web UI's sign-ins (the session cookie) */
  readonly browserSessions: BrowserSessionService;
  readonly repositories: RepositoryService;
  readonly settings: HubSettings;
  readonly policy: HubAccessPolicy;
  /** whether an account may still act with the tokens it holds (deleted, organisation tokens off its plan) */
  readonly standing: AccountStanding;
  readonly pushGate: HubPushGate;
  /** per repository, the tag patterns a push may create but never move or delete */
  readonly immutability: TagImmutability;
  /** per repository or namespace, the rules that keep tags; runs delete the others */
  readonly retention: RetentionService;
  /** plans and which one each account or organisation has (`planOf`) */
  readonly plans: PlanService;
  /** what a namespace uses (storage, private repositories) and the checks against its plan */
  readonly limits: NamespaceLimits;
  readonly organizations: OrganizationService;
  readonly teams: TeamService;
  /** pull counts per repository and tag, fed by the registry's 'manifest.pulled' events */
  readonly pullStats: PullStats;
  /** delivers the outbox (events written with their change) to subscribers */
  readonly outbox: OutboxDispatcher;
  /** repository search and suggestions, showing only what the caller may see (`docker search` too) */
  readonly search: SearchService;
  readonly categories: CategoryService;
  readonly stars: StarService;
  /** repository pages: one repository, a namespace's list, an account's stars */
  readonly pages: RepositoryPages;
  /** tags with their platforms, and a tag's images layer by layer */
  readonly tags: TagPages;

  /** who did what, from where (written by the surfaces that know the request) */
  readonly audit: AuditLog;

  /** proxy namespaces (pull-through caches of other registries): the registry's ProxyDirectory */
  readonly proxies: ProxyService;

  constructor(db: Kysely<Database>, clock: Clock, options: HubOptions = {}) {
    const dialect: DialectName = options.dialect ?? dialectOf(db);
    this.accounts = new AccountService(db, clock);
    this.browserSessions = new BrowserSessionService(db, this.accounts, clock);
    this.plans = new PlanService(db, undefined, { now: () => clock.now(), databaseChanges: options.databaseChanges });
    this.tokens = new TokenService(db, this.accounts, clock, this.plans);
    this.standing = new AccountStanding(db, this.plans, clock);
    // a plan changed here is seen by this replica's next request (others within STANDING_TTL_MS);
    // every answer goes, since a change reaches the organisations billed to the namespace too
    this.plans.onChange(() => this.standing.forget());
    this.limits = new NamespaceLimits(this.plans, new NamespaceUsage(db, this.plans));
    this.repositories = new RepositoryService(db, clock, this.limits);
    this.settings = new HubSettings(db);
    this.organizations = new OrganizationService(db, clock, async (organization) => {
      const billing = await this.plans.billingOf(organization);
      return billing && { plan: billing.plan.name, seats: billing.plan.seats, payer: billing.payer };
    }, () => this.plans.forget());
    this.teams = new TeamService(db, this.organizations, clock, this.plans);
    this.proxies = new ProxyService(db, clock, {
      ...options,
      exists: async (repository) => (await this.repositories.visibility(repository)).exists,
    });
    this.policy = new HubAccessPolicy({
      proxies: this.proxies,
      repositories: this.repositories,
      settings: this.settings,
      organizations: this.organizations,
      teams: this.teams,
      plans: this.plans,
      standing: this.standing,
    });
    this.audit = new AuditLog(db, clock);
    this.immutability = new TagImmutability(db, this.plans, clock);
    this.pushGate = new HubPushGate(this.repositories, this.limits, this.audit, this.immutability);
    this.pullStats = new PullStats(db, clock);
    this.retention = new RetentionService(db, { clock, plans: this.plans, immutability: this.immutability, audit: this.audit, pullStats: this.pullStats });
    this.outbox = new OutboxDispatcher(db, clock);
    this.categories = new CategoryService(db, clock);
    this.stars = new StarService(db, clock);
    this.pages = new RepositoryPages(db, { settings: this.settings, categories: this.categories, stars: this.stars, policy: this.policy });
    this.tags = new TagPages(db, this.pages, clock);
    this.search = new SearchService(db, dialect, this.pages);
  }

  /**
   * Deletes a repository with its tags and manifests (the registry's part; storage is reclaimed by
   * garbage collection) and what the hub kept of it: description, stars, categories, pulls.
   */
  async deleteRepository(name: string, registry: Registry): Promise<void> {
    if (!(await this.repositories.visibility(name)).exists) throw new HubError('not_found', `no repository "${name}"`);
    await registry.deleteRepository(name);
    await this.repositories.forget([name]);
  }

  /** The plan of an account or organisation, for its seats and features. */
  async planLimits(name: string): Promise<PlanLimits | undefined> {
    return this.plans.planOf(name);
  }

  /** Whether the plan that applies to `name` unlocks `feature` (PlanService.hasFeature decides). */
  async hasFeature(name: string, feature: PlanFeature): Promise<boolean> {
    return this.plans.hasFeature(name, feature);
  }

  /**
   * Deletes an account (a user, or an organisation with its members and teams) with its
   * repositories; its name stays reserved. A user who is the last owner of an organisation is
   * refused until another member owns it, and so is the last administrator.
   */
  async deleteAccount(name: string, registry: Registry): Promise<{ repositories: string[] }> {
    if (name === OFFICIAL_NAMESPACE) throw new HubError('forbidden', 'the official namespace cannot be deleted');
    const account = await this.accounts.get(name);
    // nobody but the CLI could make another administrator
    if (account?.admin && (await this.accounts.countAdmins()) <= 1) throw new HubError('conflict', `${name} is the last administrator: make another one first`);
    if (account?.kind === 'user') await this.organizations.forgetUser(name);
    if (!(await this.accounts.markDeleted(name))) throw new HubError('not_found', `no account "${name}"`);
    // from here its tokens are refused on this replica at once (on others within STANDING_TTL_MS),
    // and nothing can be created under its namespace (RepositoryService)
    this.standing.forget(name);
    this.plans.forget();
    if (account?.kind === 'organization') await this.organizations.forgetOrganization(name);
    await this.tokens.revokeAll(name);
    await this.browserSessions.revokeAll(name);
    await this.stars.forgetAccount(name);
    const repositories = await registry.deleteNamespace(name);
    await this.repositories.forgetNamespace(name);
    return { repositories };
  }
}
