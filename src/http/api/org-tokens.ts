import { z } from 'zod';
import { TOKEN_SCOPES } from '../../auth/access-policy.js';
import type { OrganizationAccessToken } from '../../hub/tokens.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { managed, OrgPath } from './org-access.js';
import { notFound } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf, OptionalTimestamp, Timestamp } from './schemas.js';
import { expiryOf, ExpiresIn } from './tokens.js';

const CreateToken = z.strictObject({
  label: z.string(),
  scopes: z.array(z.string()).min(1, { message: `at least one of ${TOKEN_SCOPES.join(', ')}` }).meta({ description: `some of ${TOKEN_SCOPES.join(', ')}` }),
  repositories: z.array(z.string()).nullish().meta({ description: 'the repositories it may use, by their name inside the organisation; absent or null: all' }),
  expires_in: ExpiresIn,
});

const TokenPath = OrgPath.extend({ id: z.string() });

const TOKEN_FIELDS = {
  id: z.string(),
  label: z.string(),
  scopes: z.array(z.string()),
  repositories: z.array(z.string()).nullable().meta({ description: 'null: every repository of the organisation' }),
  created_at: Timestamp,
  expires_at: OptionalTimestamp,
  last_used_at: OptionalTimestamp,
};

const ListedToken = z.object({ ...TOKEN_FIELDS, expired: z.boolean() }).meta({ id: 'ListedOrganizationAccessToken' });
const CreatedToken = z
  .object({ ...TOKEN_FIELDS, token: z.string().meta({ description: 'the secret: shown in this answer only' }) })
  .meta({ id: 'CreatedOrganizationAccessToken' });

function orgTokenJson(token: OrganizationAccessToken) {
  return {
    id: token.id,
    label: token.label,
    scopes: [...token.scopes],
    repositories: token.repositories,
    created_at: iso(token.createdAt)!,
    expires_at: iso(token.expiresAt),
    last_used_at: iso(token.lastUsedAt),
  };
}

/** Organisation access tokens: an organisation's credentials for CI, managed by its owners. */
export function registerOrganizationTokens(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'POST',
    path: '/orgs/{org}/tokens',
    summary: 'Create an organisation access token',
    description: 'The secret is in this answer only: it is kept as a hash.',
    tags: ['organization tokens'],
    auth: 'account',
    params: OrgPath,
    body: CreateToken,
    responses: { 201: CreatedToken },
    problems: ['not-found', 'plan-limit'],
    handler: async ({ request, caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      const expiresAt = expiryOf(ctx, body.expires_in);
      const { token, info } = await hub.tokens.createOrganizationToken(org.name, {
        label: body.label,
        scopes: body.scopes,
        repositories: body.repositories ?? null,
        expiresAt,
      });
      request.log.info(
        { organization: org.name, token: info.id, scopes: info.scopes, repositories: info.repositories, by: caller.account.name },
        'organisation access token created',
      );
      return { ...orgTokenJson(info), token };
    },
  });

  router.route({
    method: 'GET',
    path: '/orgs/{org}/tokens',
    summary: 'List an organisation’s access tokens',
    tags: ['organization tokens'],
    auth: 'account',
    params: OrgPath,
    responses: { 200: listOf(ListedToken) },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      const now = ctx.clock.now();
      const tokens = await hub.tokens.listOrganizationTokens(org.name);
      const results = tokens.map((t) => ({ ...orgTokenJson(t), expired: t.expiresAt !== null && t.expiresAt <= now }));
      return { results, count: results.length };
    },
  });

  router.route({
    method: 'DELETE',
    path: '/orgs/{org}/tokens/{id}',
    summary: 'Revoke an organisation access token',
    tags: ['organization tokens'],
    auth: 'account',
    params: TokenPath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ request, caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      if (!(await hub.tokens.revokeOrganizationToken(org.name, params.id))) throw notFound('no such token');
      request.log.info({ organization: org.name, token: params.id, by: caller.account.name }, 'organisation access token revoked');
    },
  });
}
