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
 * The port the hub implements: which of the requested scopes this subject gets. The answer is
 * the intersection of what was asked and what is allowed, never an error.
 */
export interface AccessPolicy {
  grant(subject: Subject, requested: Scope[]): Promise<Scope[]>;
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
