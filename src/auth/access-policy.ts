import type { Scope } from './scope.js';

/** What a personal access token may do; never more than its owner may. */
export type TokenScope = 'repo:read' | 'repo:write' | 'repo:delete' | 'repo:admin';
export const TOKEN_SCOPES: readonly TokenScope[] = ['repo:read', 'repo:write', 'repo:delete', 'repo:admin'];

/**
 * Who asks for a token: nobody, or an account (through a password, a refresh token or a PAT). An
 * organisation access token is an account subject named after the organisation, with scopes and,
 * when the token lists them, the only repositories it may reach.
 */
export type Subject =
  | { kind: 'anonymous' }
  | {
      kind: 'account';
      name: string;
      admin: boolean;
      /** set when the credential was a PAT or an organisation token */
      tokenScopes?: readonly TokenScope[];
      /** set when the credential was an organisation token limited to these repositories */
      tokenRepositories?: readonly string[];
    };

/**
 * Why a subject whose token is still valid may not act any more: its account is gone (deleted),
 * or its plan no longer includes what the token is (an organisation access token after a
 * downgrade). `message` says which, for the client.
 */
export interface SubjectRefusal {
  kind: 'gone' | 'plan';
  message: string;
}

/**
 * The port the hub implements, and all that the HTTP adapters (/token, /v2) know of who may do
 * what. An access token records what was granted when it was issued; what cannot wait for it to
 * expire is asked again per request through the cheap methods below.
 */
export interface AccessPolicy {
  /**
   * At /token: which of the requested scopes this subject gets. The answer is the intersection of
   * what was asked and what is allowed, never an error.
   */
  grant(subject: Subject, requested: Scope[]): Promise<Scope[]>;
  /**
   * The repository actions (pull, push, delete) the subject has now: asked per request for pulls,
   * so that a repository made private stops being pullable at once. No query for a namespace's
   * owner or an administrator.
   */
  allowed(subject: Subject, repository: string): Promise<Set<string>>;
  /** Which of `names` the subject may pull now, for the catalog (a few queries for a whole page). */
  readableAmong(subject: Subject, names: string[]): Promise<Set<string>>;
  /**
   * Per request, for a subject that holds a valid token: why it may no longer act (its account
   * deleted, an organisation token its plan no longer includes), or undefined when it may. Cheap:
   * answered from a cache of about a second.
   */
  refusal(subject: Subject): Promise<SubjectRefusal | undefined>;
}

/** Repository actions each PAT scope allows (write and delete include read: a push reads too). */
export function actionsOfTokenScopes(scopes: readonly TokenScope[]): Set<string> {
  const actions = new Set<string>();
  for (const scope of scopes) {
    actions.add('pull');
    if (scope === 'repo:write' || scope === 'repo:admin') actions.add('push');
    if (scope === 'repo:delete' || scope === 'repo:admin') actions.add('delete');
  }
  return actions;
}

export function isTokenScope(value: string): value is TokenScope {
  return (TOKEN_SCOPES as readonly string[]).includes(value);
}
