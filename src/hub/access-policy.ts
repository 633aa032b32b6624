import { actionsOfTokenScopes, type AccessPolicy, type Subject, type SubjectRefusal } from '../auth/access-policy.js';
import type { Scope } from '../auth/scope.js';
import { namespaceOf, OFFICIAL_NAMESPACE } from '../oci/names.js';
import type { AccountStanding } from './account-standing.js';
import type { OrganizationService } from './organizations.js';
import type { PlanService } from './plans.js';
import type { RepositoryService } from './repositories.js';
import type { HubSettings } from './settings.js';
import { actionsOfTeamPermission, type TeamPermission, type TeamService } from './teams.js';

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

  constructor(options: HubAccessPolicyOptions) {
    this.repositories = options.repositories;
    this.settings = options.settings;
    this.organizations = options.organizations;
    this.teams = options.teams;
    this.plans = options.plans;
    this.standing = options.standing;
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
    let actions = await this.beforeTokenLimits(subject, repository);
    if (subject.kind === 'account' && subject.tokenScopes) {
      const limit = actionsOfTokenScopes(subject.tokenScopes);
      actions = new Set([...actions].filter((a) => limit.has(a)));
    }
    return actions;
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
        if (publicVisible) readable.add(name);
      } else if ((await this.allowed(subject, name)).has('pull')) {
        readable.add(name);
      }
    }
    return readable;
  }

  /**
   * What the subject may do with each of `names`, repositories it may see (read), as a page shows
   * them: write (push) and admin (settings, deletion) are allowed() and administers() per name.
   * Only an account in its own namespace, in an organisation it belongs to, or an administrator
   * can have more than read: for the names of other namespaces (most of a search page) one query
   * tells, instead of the policy's few per name.
   */
  async permissionsAmong(subject: Subject, names: readonly string[]): Promise<Map<string, { read: boolean; write: boolean; admin: boolean }>> {
    const readOnly = { read: true, write: false, admin: false };
    if (subject.kind === 'anonymous') return new Map(names.map((name) => [name, readOnly]));
    const namespaces = [...new Set(names.map(namespaceOf))];
    const member = subject.admin || subject.tokenRepositories ? new Set(namespaces) : await this.organizations?.memberOfAmong(subject.name, namespaces);
    const entries = await Promise.all(
      names.map(async (name) => {
        const namespace = namespaceOf(name);
        if (namespace !== subject.name && member && !member.has(namespace)) return [name, readOnly] as const;
        const [actions, admin] = await Promise.all([this.allowed(subject, name), this.administers(subject, name)]);
        return [name, { read: actions.has('pull'), write: actions.has('push'), admin }] as const;
      }),
    );
    return new Map(entries);
  }

  /** Whether `subject` may change a repository's settings (visibility): its namespace's owner, an owner of its organisation, a team with admin on it, an administrator. */
  async administers(subject: Subject, repository: string): Promise<boolean> {
    if (subject.kind !== 'account') return false;
    if (subject.tokenScopes && !subject.tokenScopes.includes('repo:admin')) return false;
    if (subject.tokenRepositories && !subject.tokenRepositories.includes(repository)) return false;
    if (subject.admin) return true;
    const namespace = namespaceOf(repository);
    if (namespace === subject.name) return namespace !== OFFICIAL_NAMESPACE;
    const role = await this.organizations.role(namespace, subject.name);
    if (role === 'owner') return true;
    if (role === 'member') return (await this.teamPermission(namespace, subject.name, repository)) === 'admin';
    return false;
  }

  /** Deleted accounts, and organisation tokens whose plan no longer includes them (AccountStanding). */
  async refusal(subject: Subject): Promise<SubjectRefusal | undefined> {
    if (subject.kind !== 'account') return undefined;
    return this.standing.refusal(subject.name);
  }

  /** What the member's teams give on the repository, while the organisation's plan includes team permissions. */
  private async teamPermission(organization: string, account: string, repository: string): Promise<TeamPermission | undefined> {
    const permission = await this.teams.permissionOf(organization, account, repository);
    // asked only when a team gives something: most members of most organisations cost no plan query
    if (!permission || !(await this.plans.hasFeature(organization, 'team-permissions'))) return undefined;
    return permission;
  }

  private async beforeTokenLimits(subject: Subject, repository: string): Promise<Set<string>> {
    const namespace = namespaceOf(repository);
    if (subject.kind === 'account') {
      // an organisation token listing repositories reaches those; elsewhere it is any signed-in account
      const limited = subject.tokenRepositories !== undefined && !subject.tokenRepositories.includes(repository);
      if (!limited) {
        if (subject.admin) return new Set(REPOSITORY_ACTIONS);
        // a user's own namespace, or an organisation's own (its tokens); nobody is `library` itself
        if (namespace === subject.name && namespace !== OFFICIAL_NAMESPACE) return new Set(REPOSITORY_ACTIONS);
      }
      if (!limited && namespace !== subject.name) {
        const role = await this.organizations.role(namespace, subject.name);
        if (role === 'owner') return new Set(REPOSITORY_ACTIONS);
        if (role === 'member') {
          // a team's permission holds on a repository not pushed yet too: the team may create it
          const permission = await this.teamPermission(namespace, subject.name, repository);
          if (permission) return new Set(actionsOfTeamPermission(permission));
        }
      }
    }
    const actions = new Set<string>();
    const visibility = await this.repositories.visibility(repository);
    const mayPull = visibility.exists && !visibility.private && (subject.kind === 'account' || !(await this.settings.get('pullRequiresLogin')));
    if (mayPull) actions.add('pull');
    return actions;
  }
}
