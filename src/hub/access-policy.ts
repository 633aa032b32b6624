import { actionsOfTokenScopes, type AccessPolicy, type Subject, type SubjectRefusal } from '../auth/access-policy.js';
import type { Scope } from '../auth/scope.js';
import { namespaceOf, OFFICIAL_NAMESPACE } from '../oci/names.js';
import type { AccountStanding } from './account-standing.js';
import type { OrganizationRole, OrganizationService } from './organizations.js';
import type { PlanService } from './plans.js';
import type { ProxyService } from './proxies.js';
import type { RepositoryService } from './repositories.js';
import type { HubSettings } from './settings.js';
import { actionsOfTeamPermission, strongestPermission, type TeamPermission, type TeamService } from './teams.js';

const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'];

export interface HubAccessPolicyOptions {
  repositories: RepositoryService;
  settings: HubSettings;
  organizations: OrganizationService;
  teams: TeamService;
  /** whether a namespace's plan includes team permissions: asked each time one would apply */
  plans: Pick<PlanService, 'hasFeature'>;
  /** deleted accounts and organisation tokens a downgrade switched off, asked per request */
  standing: AccountStanding;
  /** proxy namespaces: their repositories are pulled by the proxy's visibility, pushed by nobody */
  proxies?: Pick<ProxyService, 'visibilityOf' | 'namespaceVisibility'>;
}

/**
 * Who may do what, decided when a token is issued and, for what cannot wait, per request:
 * - an administrator: everything, official images included;
 * - a user: everything in its own namespace;
 * - an owner of an organisation: everything in the organisation's namespace;
 * - a member of an organisation: what its teams give (read: pull, write: push too, admin: delete
 *   too) on the repositories they name, or on all (`*`), while the organisation's plan includes
 *   team permissions (after a downgrade they give nothing, until the plan has them again);
 * - an organisation access token: everything in its organisation's namespace, or only on the
 *   repositories it lists (while its plan includes organisation tokens: see `refusal`);
 * - anyone (or, when pull requires login, any account): pull of public repositories that exist.
 * A private or missing repository is granted nothing, so the two look the same from outside.
 * A personal or organisation access token narrows this to its scopes. A deleted account is
 * granted nothing: its credentials are revoked, and tokens it still holds are refused per request.
 */
export class HubAccessPolicy implements AccessPolicy {
  private readonly repositories: RepositoryService;
  private readonly settings: HubSettings;
  private readonly organizations: OrganizationService;
  private readonly teams: TeamService;
  private readonly plans: Pick<PlanService, 'hasFeature'>;
  private readonly standing: AccountStanding;
  private readonly proxies: Pick<ProxyService, 'visibilityOf' | 'namespaceVisibility'> | undefined;

  constructor(options: HubAccessPolicyOptions) {
    this.repositories = options.repositories;
    this.settings = options.settings;
    this.organizations = options.organizations;
    this.teams = options.teams;
    this.plans = options.plans;
    this.standing = options.standing;
    this.proxies = options.proxies;
  }

  async grant(subject: Subject, requested: Scope[]): Promise<Scope[]> {
    const granted: Scope[] = [];
    for (const scope of requested) {
      if (scope.type === 'registry') {
        // the catalog is filtered per request to what the caller may see
        if (scope.name === 'catalog') granted.push({ ...scope, actions: scope.actions.filter((a) => a === '*') });
        continue;
      }
      const allowed = await this.allowed(subject, scope.name);
      const actions = scope.actions.filter((a) => allowed.has(a));
      if (actions.length > 0) granted.push({ type: 'repository', name: scope.name, actions });
    }
    return granted.filter((s) => s.actions.length > 0);
  }

  /** Actions `subject` has on `repository`; also asked per request for pulls that cannot wait. */
  async allowed(subject: Subject, repository: string): Promise<Set<string>> {
    const actions = await this.membershipActions(subject, repository, this.factsFor(subject));
    if (!actions.has('pull')) {
      // a proxied repository (or a name the mirror serves): pulled by the proxy's visibility,
      // whether or not it was cached yet; only administrators delete there, nobody pushes
      const proxied = await this.proxies?.visibilityOf(repository);
      const signedIn = subject.kind === 'account';
      let mayPull: boolean;
      if (proxied !== undefined) mayPull = signedIn || (proxied === 'public' && !(await this.settings.get('pullRequiresLogin')));
      else {
        const visibility = await this.repositories.visibility(repository);
        mayPull = visibility.exists && !visibility.private && (signedIn || !(await this.settings.get('pullRequiresLogin')));
      }
      if (mayPull) actions.add('pull');
    }
    return withinTokenScopes(subject, actions);
  }

  /**
   * Which of `names` the subject may pull, for the catalog: public ones in one query, then the
   * policy for the private ones only (an organisation's members see what their teams give).
   */
  async readableAmong(subject: Subject, names: string[]): Promise<Set<string>> {
    if (subject.kind === 'account' && subject.admin) return new Set(names);
    const readable = new Set<string>();
    if (names.length === 0) return readable;
    const hidden = await this.repositories.privateAmong(names);
    const publicVisible = subject.kind === 'account' || !(await this.settings.get('pullRequiresLogin'));
    for (const name of names) {
      if (!hidden.has(name)) {
        // a proxy namespace for members only is hidden from anonymous callers
        const proxied = subject.kind === 'anonymous' ? await this.proxies?.namespaceVisibility(namespaceOf(name)) : undefined;
        if (publicVisible && proxied !== 'members') readable.add(name);
      } else if ((await this.allowed(subject, name)).has('pull')) {
        readable.add(name);
      }
    }
    return readable;
  }

  /**
   * What the subject may do with each of `names`, repositories it may see (read), as a page shows
   * them: write (push) and admin (settings, deletion), by the rules of allowed() and administers()
   * with the subject's roles and team permissions read once for all the names' namespaces.
   */
  async permissionsAmong(subject: Subject, names: readonly string[]): Promise<Map<string, { read: boolean; write: boolean; admin: boolean }>> {
    const permissions = new Map<string, { read: boolean; write: boolean; admin: boolean }>();
    if (subject.kind === 'anonymous') {
      for (const name of names) permissions.set(name, { read: true, write: false, admin: false });
      return permissions;
    }
    const facts = await this.factsAmong(subject, [...new Set(names.map(namespaceOf))]);
    for (const name of names) {
      const actions = withinTokenScopes(subject, await this.membershipActions(subject, name, facts));
      permissions.set(name, { read: true, write: actions.has('push'), admin: await this.administersWith(subject, name, facts) });
    }
    return permissions;
  }

  /** Whether `subject` may change a repository's settings (visibility): its namespace's owner, an owner of its organisation, a team with admin on it, an administrator. */
  async administers(subject: Subject, repository: string): Promise<boolean> {
    return this.administersWith(subject, repository, this.factsFor(subject));
  }

  /** Deleted accounts, and organisation tokens whose plan no longer includes them (AccountStanding). */
  async refusal(subject: Subject): Promise<SubjectRefusal | undefined> {
    if (subject.kind !== 'account') return undefined;
    return this.standing.refusal(subject.name);
  }

  /**
   * The organisations, among those where the account is on a team, whose plan includes team
   * permissions: where its teams' grants count (hub/visibility.ts asks, to filter lists in SQL).
   */
  async teamOrganizationsOf(account: string): Promise<string[]> {
    const organizations = await this.teams.organizationsOfMember(account);
    const counted: string[] = [];
    for (const organization of organizations) if (await this.plans.hasFeature(organization, 'team-permissions')) counted.push(organization);
    return counted;
  }

  private async administersWith(subject: Subject, repository: string, facts: MembershipFacts): Promise<boolean> {
    if (subject.kind !== 'account') return false;
    if (subject.tokenScopes && !subject.tokenScopes.includes('repo:admin')) return false;
    if (subject.tokenRepositories && !subject.tokenRepositories.includes(repository)) return false;
    if (subject.admin) return true;
    const namespace = namespaceOf(repository);
    if (namespace === subject.name) return namespace !== OFFICIAL_NAMESPACE;
    const role = await facts.role(namespace);
    if (role === 'owner') return true;
    if (role === 'member') return (await facts.teamPermission(namespace, repository)) === 'admin';
    return false;
  }

  /** What the subject may do with a repository by who it is (administrator, owner, member of a team), before tokens narrow it; pulls of public repositories aside. */
  private async membershipActions(subject: Subject, repository: string, facts: MembershipFacts): Promise<Set<string>> {
    if (subject.kind !== 'account') return new Set();
    const namespace = namespaceOf(repository);
    // an organisation token listing repositories reaches those; elsewhere it is any signed-in account
    const limited = subject.tokenRepositories !== undefined && !subject.tokenRepositories.includes(repository);
    if (limited) return new Set();
    if (subject.admin) return new Set(REPOSITORY_ACTIONS);
    // a user's own namespace, or an organisation's own (its tokens); nobody is `library` itself
    if (namespace === subject.name) return new Set(namespace !== OFFICIAL_NAMESPACE ? REPOSITORY_ACTIONS : []);
    const role = await facts.role(namespace);
    if (role === 'owner') return new Set(REPOSITORY_ACTIONS);
    if (role === 'member') {
      // a team's permission holds on a repository not pushed yet too: the team may create it
      const permission = await facts.teamPermission(namespace, repository);
      if (permission) return new Set(actionsOfTeamPermission(permission));
    }
    return new Set();
  }

  /** The subject's roles and team permissions, asked when a rule needs them (one repository). */
  private factsFor(subject: Subject): MembershipFacts {
    const account = subject.kind === 'account' ? subject.name : undefined;
    return {
      role: async (namespace) => (account ? this.organizations.role(namespace, account) : undefined),
      teamPermission: async (namespace, repository) => (account ? this.counted(namespace, await this.teams.permissionOf(namespace, account, repository)) : undefined),
    };
  }

  /** The subject's roles and team permissions in `namespaces`, read at once (a page of repositories). */
  private async factsAmong(subject: Subject, namespaces: string[]): Promise<MembershipFacts> {
    if (subject.kind !== 'account' || subject.admin) return this.factsFor(subject);
    const account = subject.name;
    const [roles, grants] = await Promise.all([this.organizations.rolesAmong(account, namespaces), this.teams.grantsAmong(account, namespaces)]);
    return {
      role: async (namespace) => roles.get(namespace),
      teamPermission: async (namespace, repository) => this.counted(namespace, strongestPermission(grants.get(namespace) ?? [], repository)),
    };
  }

  /** A team's permission counts while the organisation's plan includes team permissions (asked only when a team gives something). */
  private async counted(organization: string, permission: TeamPermission | undefined): Promise<TeamPermission | undefined> {
    if (!permission || !(await this.plans.hasFeature(organization, 'team-permissions'))) return undefined;
    return permission;
  }
}

/** A token's scopes narrow what its account may do. */
function withinTokenScopes(subject: Subject, actions: Set<string>): Set<string> {
  if (subject.kind !== 'account' || !subject.tokenScopes) return actions;
  const limit = actionsOfTokenScopes(subject.tokenScopes);
  return new Set([...actions].filter((a) => limit.has(a)));
}

/** What the rules ask about the subject: its role in an organisation, and what its teams give on a repository (counted only under a plan with team permissions). */
interface MembershipFacts {
  role(namespace: string): Promise<OrganizationRole | undefined>;
  teamPermission(namespace: string, repository: string): Promise<TeamPermission | undefined>;
}
