import type { FastifyRequest } from 'fastify';
import type { Subject } from '../../auth/access-policy.js';
import { formatScope, type Scope } from '../../auth/scope.js';
import { InvalidTokenError } from '../../auth/signing-keys.js';
import { namespaceOf, OFFICIAL_NAMESPACE } from '../../oci/names.js';
import type { CatalogFilter } from '../../registry/listings.js';
import type { Actor } from '../../registry/ports.js';
import { ADMIN_CLAIM, REPOSITORIES_CLAIM } from '../token.js';
import type { TokenAuth } from '../token-auth.js';
import { AuthorizationError, type AuthorizationFailure, type V2Authorizer } from './authorize.js';

interface AccessClaims {
  /** '' for an anonymous token */
  sub: string;
  admin: boolean;
  access: Scope[];
  /** an organisation access token's repositories; absent when the token is not limited to some */
  repositories?: string[];
}

/**
 * /v2 under Docker token auth: a request carries `Authorization: Bearer <jwt>` from /token, and
 * the token's `access` claim must hold every action the request needs. Verification is local
 * (signature and times), no database round trip; the one exception is a pull by someone who is
 * neither the namespace's owner nor an administrator, re-checked per request so that a
 * repository made private stops being pullable at once rather than when tokens expire.
 *
 * Every refusal is a 401 with a challenge naming exactly what the request needs. A private
 * repository and a missing one are refused alike (the policy grants nothing on either).
 */
export function tokenAuthorizer(auth: TokenAuth): V2Authorizer {
  const verified = new WeakMap<FastifyRequest, AccessClaims>();

  return {
    async authorize(request, required) {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) throw refusal(auth, required, 'required');
      let claims: AccessClaims;
      try {
        claims = accessClaims(await auth.keyRing.verify(token, { issuer: auth.issuer, audience: auth.service }));
      } catch (error) {
        if (error instanceof InvalidTokenError) throw refusal(auth, required, 'invalid_token');
        throw error;
      }
      for (const scope of required) {
        const held = claims.access.find((a) => a.type === scope.type && a.name === scope.name);
        if (!held || !scope.actions.every((action) => held.actions.includes(action))) throw refusal(auth, required, 'insufficient_scope');
      }
      for (const scope of required) {
        if (scope.type !== 'repository' || !scope.actions.includes('pull') || ownsOrAdministers(claims, scope.name)) continue;
        if (!(await auth.hub.policy.allowed(subjectOf(claims), scope.name)).has('pull')) throw refusal(auth, required, 'insufficient_scope');
      }
      verified.set(request, claims);
      return claims.sub ? { account: claims.sub } : {};
    },

    readable(request: FastifyRequest) {
      const claims = verified.get(request);
      return async (repository: string) => {
        if (!claims) return false;
        if (ownsOrAdministers(claims, repository)) return true;
        return (await auth.hub.policy.allowed(subjectOf(claims), repository)).has('pull');
      };
    },

    catalogFilter(request: FastifyRequest, _actor: Actor): CatalogFilter | undefined {
      const claims = verified.get(request);
      if (claims?.admin) return undefined;
      // public names, and the private ones the policy lets this subject pull (an organisation's
      // members see what their teams give; an organisation token only its repositories)
      return async (names) => (claims ? auth.hub.policy.readableAmong(subjectOf(claims), names) : new Set());
    },
  };
}

/** The policy's subject of a verified token (what the per-request checks ask about). */
function subjectOf(claims: AccessClaims): Subject {
  if (!claims.sub) return { kind: 'anonymous' };
  return { kind: 'account', name: claims.sub, admin: false, ...(claims.repositories ? { tokenRepositories: claims.repositories } : {}) };
}

function ownsOrAdministers(claims: AccessClaims, repository: string): boolean {
  if (claims.admin) return true;
  if (claims.repositories && !claims.repositories.includes(repository)) return false;
  const namespace = namespaceOf(repository);
  return claims.sub !== '' && namespace === claims.sub && namespace !== OFFICIAL_NAMESPACE;
}

/** The `sub`, admin flag and `access` of a verified token; malformed entries grant nothing. */
function accessClaims(payload: Record<string, unknown>): AccessClaims {
  const access: Scope[] = [];
  if (Array.isArray(payload.access)) {
    for (const entry of payload.access as unknown[]) {
      const { type, name, actions } = (entry ?? {}) as Record<string, unknown>;
      if ((type !== 'repository' && type !== 'registry') || typeof name !== 'string' || !Array.isArray(actions)) continue;
      access.push({ type, name, actions: actions.filter((a): a is string => typeof a === 'string') });
    }
  }
  const limited = payload[REPOSITORIES_CLAIM];
  const repositories = Array.isArray(limited) ? limited.filter((r): r is string => typeof r === 'string') : undefined;
  return { sub: typeof payload.sub === 'string' ? payload.sub : '', admin: payload[ADMIN_CLAIM] === true, access, ...(repositories ? { repositories } : {}) };
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(space + 1).trim();
  return token === '' ? undefined : token;
}

/**
 * 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope="..."` as distribution writes it:
 * the scopes of the request space-separated in one parameter (a mount names both repositories),
 * and `error=` when a token was presented but bad or short of a scope.
 */
function refusal(auth: TokenAuth, required: Scope[], reason: AuthorizationFailure): AuthorizationError {
  let challenge = `Bearer realm=${quote(auth.realm)},service=${quote(auth.service)}`;
  if (required.length > 0) challenge += `,scope=${quote(required.map(formatScope).join(' '))}`;
  if (reason !== 'required') challenge += `,error="${reason}"`;
  const detail = required.flatMap((s) => s.actions.map((action) => ({ Type: s.type, Name: s.name, Action: action })));
  const options = { status: 401, headers: { 'www-authenticate': challenge }, ...(detail.length > 0 ? { detail } : {}) };
  if (reason === 'insufficient_scope') return new AuthorizationError(reason, 'DENIED', 'requested access to the resource is denied', options);
  if (reason === 'invalid_token') return new AuthorizationError(reason, 'UNAUTHORIZED', 'the access token is invalid or has expired', options);
  return new AuthorizationError(reason, 'UNAUTHORIZED', 'authentication required', options);
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
