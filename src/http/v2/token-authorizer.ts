import type { FastifyRequest } from 'fastify';
import type { Subject } from '../../auth/access-policy.js';
import { formatScope, type Scope } from '../../auth/scope.js';
import { InvalidTokenError } from '../../auth/signing-keys.js';
import { OciError } from '../../oci/errors.js';
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
 * the token's `access` claim must hold every action the request needs. The signature and times
 * are checked here, without a database round trip; what cannot wait for the token to expire is
 * asked of the AccessPolicy port per request, which answers it cheaply: whether the token's
 * account may still act (not deleted; an organisation token its plan still includes), and whether
 * the subject still has the actions the request needs (a repository made private stops being
 * pullable at once, a team permission taken away or switched off by a downgrade stops pushes;
 * an owner or administrator costs no query).
 *
 * Every refusal of the token is a 401 with a challenge naming exactly what the request needs; a
 * plan that no longer allows the token is a 403 DENIED saying so. A private repository and a
 * missing one are refused alike (the policy grants nothing on either).
 */
export function tokenAuthorizer(auth: TokenAuth): V2Authorizer {
  const verified = new WeakMap<FastifyRequest, AccessClaims>();
  const parsed = new WeakMap<object, AccessClaims>();
  const { policy } = auth;

  return {
    async authorize(request, required) {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) throw refusal(auth, required, 'required');
      let claims: AccessClaims;
      try {
        const payload = await auth.keyRing.verify(token, { issuer: auth.issuer, audience: auth.service });
        // the key ring hands out the same frozen payload for a token it verified before
        let known = parsed.get(payload);
        if (!known) parsed.set(payload, (known = accessClaims(payload)));
        claims = known;
      } catch (error) {
        if (error instanceof InvalidTokenError) throw refusal(auth, required, 'invalid_token');
        throw error;
      }
      for (const scope of required) {
        const held = claims.access.find((a) => a.type === scope.type && a.name === scope.name);
        if (!held || !scope.actions.every((action) => held.actions.includes(action))) throw refusal(auth, required, 'insufficient_scope');
      }
      const subject = subjectOf(claims);
      const standing = await policy.refusal(subject);
      if (standing?.kind === 'gone') throw refusal(auth, required, 'invalid_token', `the access token is no longer valid: ${standing.message}`);
      if (standing) throw new OciError('DENIED', standing.message, { byPlan: standing.kind === 'plan' });
      // what the token was granted, as far as the policy still allows it now: a repository made
      // private, a member taken off a team, a plan without team permissions count at once
      for (const scope of required) {
        if (scope.type !== 'repository') continue;
        const allowed = await policy.allowed(subject, scope.name);
        if (!scope.actions.every((action) => allowed.has(action))) throw refusal(auth, required, 'insufficient_scope');
      }
      verified.set(request, claims);
      return claims.sub ? { account: claims.sub } : {};
    },

    readable(request: FastifyRequest) {
      const claims = verified.get(request);
      return async (repository: string) => (claims ? (await policy.allowed(subjectOf(claims), repository)).has('pull') : false);
    },

    catalogFilter(request: FastifyRequest, _actor: Actor): CatalogFilter | undefined {
      const claims = verified.get(request);
      // the names the policy lets this subject pull: public ones, and the private ones it may
      // (an administrator all, an organisation's members what their teams give, an organisation
      // token only its repositories)
      return async (names) => (claims ? policy.readableAmong(subjectOf(claims), names) : new Set());
    },
  };
}

/**
 * The policy's subject of a verified token (what the per-request checks ask about). A token
 * carries its grants, not its credential's scopes: these checks only take away.
 */
function subjectOf(claims: AccessClaims): Subject {
  if (!claims.sub) return { kind: 'anonymous' };
  return { kind: 'account', name: claims.sub, admin: claims.admin, ...(claims.repositories ? { tokenRepositories: claims.repositories } : {}) };
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
function refusal(auth: TokenAuth, required: Scope[], reason: AuthorizationFailure, message?: string): AuthorizationError {
  let challenge = `Bearer realm=${quote(auth.realm)},service=${quote(auth.service)}`;
  if (required.length > 0) challenge += `,scope=${quote(required.map(formatScope).join(' '))}`;
  if (reason !== 'required') challenge += `,error="${reason}"`;
  const detail = required.flatMap((s) => s.actions.map((action) => ({ Type: s.type, Name: s.name, Action: action })));
  const options = { status: 401, headers: { 'www-authenticate': challenge }, ...(detail.length > 0 ? { detail } : {}) };
  if (reason === 'insufficient_scope') return new AuthorizationError(reason, 'DENIED', 'requested access to the resource is denied', options);
  if (reason === 'invalid_token') return new AuthorizationError(reason, 'UNAUTHORIZED', message ?? 'the access token is invalid or has expired', options);
  return new AuthorizationError(reason, 'UNAUTHORIZED', 'authentication required', options);
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
