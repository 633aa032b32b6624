import type { FastifyRequest } from 'fastify';
import type { Scope } from '../../auth/scope.js';
import { OciError, type ErrorCode } from '../../oci/errors.js';
import type { CatalogFilter } from '../../registry/listings.js';
import type { Actor } from '../../registry/ports.js';
import type { V2Route } from './route.js';

/**
 * The auth seam of /v2: given what a request needs, say who is acting or throw an OciError
 * (UNAUTHORIZED with its WWW-Authenticate challenge, or DENIED). Token auth plugs in here.
 */
export interface V2Authorizer {
  authorize(request: FastifyRequest, required: Scope[]): Promise<Actor>;
  /**
   * Which repositories the catalog may show to the caller that `authorize` let in; undefined
   * shows them all (open mode, administrators).
   */
  catalogFilter?(request: FastifyRequest, actor: Actor): CatalogFilter | undefined;
  /**
   * For a mount without `from` (the spec's automatic content discovery): whether the caller that
   * `authorize` let in may pull `repository`. The blob is mounted only from a repository it may
   * pull, so a mount never says that a private repository holds a blob. Undefined: any (open mode).
   */
  readable?(request: FastifyRequest): (repository: string) => Promise<boolean>;
}

/** Why an authorizer refused: no credential, a bad one, or a good one that lacks a scope. */
export type AuthorizationFailure = 'required' | 'invalid_token' | 'insufficient_scope';

/** The refusal of an authorizer: an OciError (401 and its challenge) that says why. */
export class AuthorizationError extends OciError {
  constructor(
    readonly reason: AuthorizationFailure,
    code: ErrorCode,
    message: string,
    options: { status?: number; detail?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(code, message, options);
  }
}

/** Open mode: anonymous push and pull, for local development. */
export const openAuthorizer: V2Authorizer = { authorize: async () => ({}) };

/**
 * What a request needs, named exactly: pull to read, push to write, delete to delete; a mount
 * also needs pull on its source; the catalog needs `registry:catalog:*`; `/v2/` needs nothing.
 * `name` is the normalized repository name (`library/nginx` for `nginx`).
 */
export function requiredScopes(route: V2Route, method: string, name: string | undefined, mountFrom?: string): Scope[] {
  switch (route.kind) {
    case 'base':
      return [];
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    default: {
      const actions =
        method === 'DELETE' && (route.kind === 'manifest' || route.kind === 'blob')
          ? ['delete']
          : method === 'GET' || method === 'HEAD'
            ? route.kind === 'upload'
              ? ['pull', 'push']
              : ['pull']
            : ['pull', 'push'];
      const scopes: Scope[] = [{ type: 'repository', name: name!, actions }];
      if (mountFrom !== undefined && mountFrom !== name) scopes.push({ type: 'repository', name: mountFrom, actions: ['pull'] });
      return scopes;
    }
  }
}
