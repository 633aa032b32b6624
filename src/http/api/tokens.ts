import { z } from 'zod';
import { TOKEN_SCOPES } from '../../auth/access-policy.js';
import { TOKEN_LIFETIME_RULE, tokenLifetimeSeconds, type PersonalAccessToken } from '../../hub/tokens.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { badRequest, notFound } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf, OptionalTimestamp, Timestamp } from './schemas.js';

const Scopes = z.array(z.string()).min(1, { message: `at least one of ${TOKEN_SCOPES.join(', ')}` }).meta({ description: `some of ${TOKEN_SCOPES.join(', ')}` });

/** A lifetime: seconds, or a duration such as `30d` or `12h`; at most 5 years; none: never expires. */
export const ExpiresIn = z
  .union([z.number(), z.string()])
  .nullish()
  .meta({ description: 'seconds, or a duration such as 30d or 12h (at most 5 years); absent or null: the token does not expire' });

const CreateToken = z.strictObject({ label: z.string(), scopes: Scopes, expires_in: ExpiresIn });

const TokenId = z.object({ id: z.string() });

const TOKEN_FIELDS = {
  id: z.string(),
  label: z.string(),
  scopes: z.array(z.string()),
  created_at: Timestamp,
  expires_at: OptionalTimestamp,
  last_used_at: OptionalTimestamp,
};

export const PersonalAccessTokenSchema = z.object(TOKEN_FIELDS).meta({ id: 'PersonalAccessToken' });
const ListedToken = z.object({ ...TOKEN_FIELDS, expired: z.boolean() }).meta({ id: 'ListedPersonalAccessToken' });
const CreatedToken = z
  .object({ ...TOKEN_FIELDS, token: z.string().meta({ description: 'the secret: shown in this answer only' }) })
  .meta({ id: 'CreatedPersonalAccessToken' });

function tokenJson(token: PersonalAccessToken) {
  return {
    id: token.id,
    label: token.label,
    scopes: [...token.scopes],
    created_at: iso(token.createdAt)!,
    expires_at: iso(token.expiresAt),
    last_used_at: iso(token.lastUsedAt),
  };
}

/**
 * `expires_in` as an instant from now, under the hub's lifetime rule (which TokenService enforces
 * again); here first, so that a bad value is a 400 naming the field.
 */
export function expiryOf(ctx: ApiContext, expiresIn: string | number | null | undefined): number | undefined {
  if (expiresIn === undefined || expiresIn === null) return undefined;
  const seconds = tokenLifetimeSeconds(expiresIn);
  if (seconds === undefined) throw badRequest(`expires_in: ${TOKEN_LIFETIME_RULE}`, [{ field: 'expires_in', message: TOKEN_LIFETIME_RULE }]);
  return ctx.clock.now() + seconds * 1000;
}

/** Personal access tokens, for machines and CI (sessions are in sessions.ts). */
export function registerTokens(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'POST',
    path: '/users/me/tokens',
    summary: 'Create a personal access token',
    description: 'The secret is in this answer only: it is kept as a hash.',
    tags: ['tokens'],
    auth: 'account',
    body: CreateToken,
    responses: { 201: CreatedToken },
    handler: async ({ request, caller, body }) => {
      const expiresAt = expiryOf(ctx, body.expires_in);
      const { token, info } = await hub.tokens.createPersonalAccessToken(caller.account.name, { label: body.label, scopes: body.scopes, expiresAt });
      request.log.info({ account: caller.account.name, token: info.id, scopes: info.scopes }, 'personal access token created');
      return { ...tokenJson(info), token };
    },
  });

  router.route({
    method: 'GET',
    path: '/users/me/tokens',
    summary: 'List the caller’s personal access tokens',
    tags: ['tokens'],
    auth: 'account',
    responses: { 200: listOf(ListedToken) },
    handler: async ({ caller }) => {
      const now = ctx.clock.now();
      const tokens = await hub.tokens.listPersonalAccessTokens(caller.account.name);
      const results = tokens.map((t) => ({ ...tokenJson(t), expired: t.expiresAt !== null && t.expiresAt <= now }));
      return { results, count: results.length };
    },
  });

  router.route({
    method: 'DELETE',
    path: '/users/me/tokens/{id}',
    summary: 'Revoke a personal access token',
    tags: ['tokens'],
    auth: 'account',
    params: TokenId,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ request, caller, params }) => {
      if (!(await hub.tokens.revokePersonalAccessToken(caller.account.name, params.id))) throw notFound('no such token');
      request.log.info({ account: caller.account.name, token: params.id }, 'personal access token revoked');
    },
  });
}
