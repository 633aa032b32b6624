import { actionsOfTokenScopes, type AccessPolicy, type Subject } from '../auth/access-policy.js';
import type { Scope } from '../auth/scope.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import { namespaceOf } from './account-names.js';
import type { RepositoryService } from './repositories.js';
import type { HubSettings } from './settings.js';

const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'];

/**
 * Who may do what, decided when a token is issued:
 * - an administrator: everything, official images included;
 * - a user: everything in its own namespace;
 * - anyone (or, when pull requires login, any account): pull of public repositories that exist.
 * A private or missing repository is granted nothing, so the two look the same from outside.
 * A personal access token narrows this to its scopes.
 */
export class HubAccessPolicy implements AccessPolicy {
  constructor(
    private readonly repositories: RepositoryService,
    private readonly settings: HubSettings,
  ) {}

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
    let actions: Set<string>;
    const namespace = namespaceOf(repository);
    if (subject.kind === 'account' && (subject.admin || (namespace === subject.name && namespace !== OFFICIAL_NAMESPACE))) {
      actions = new Set(REPOSITORY_ACTIONS);
    } else {
      actions = new Set();
      const visibility = await this.repositories.visibility(repository);
      const mayPull = visibility.exists && !visibility.private && (subject.kind === 'account' || !(await this.settings.get('pullRequiresLogin')));
      if (mayPull) actions.add('pull');
    }
    if (subject.kind === 'account' && subject.tokenScopes) {
      const limit = actionsOfTokenScopes(subject.tokenScopes);
      actions = new Set([...actions].filter((a) => limit.has(a)));
    }
    return actions;
  }
}
