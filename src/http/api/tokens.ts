import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TOKEN_SCOPES } from '../../auth/access-policy.js';
import type { PersonalAccessToken, RefreshTokenInfo } from '../../hub/tokens.js';
import { requireAccountCaller } from './authenticate.js';
import { iso, parseBody, tokenLifetimeSeconds } from './body.js';
import type { ApiContext } from './context.js';
import { badRequest, notFound } from './problem.js';

const CreateToken = z.strictObject({
  label: z.string(),
  scopes: z.array(z.string()).min(1, { message: `at least one of ${TOKEN_SCOPES.join(', ')}` }),
  expires_in: z.union([z.number(), z.string()]).nullish(),
});

function tokenJson(token: PersonalAccessToken) {
  return {
    id: token.id,
    label: token.label,
    scopes: token.scopes,
    created_at: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    last_used_at: iso(token.lastUsedAt),
  };
}

function sessionJson(session: RefreshTokenInfo) {
  return {
    id: session.id,
    client_id: session.clientId,
    created_at: iso(session.createdAt),
    last_used_at: iso(session.lastUsedAt),
  };
}

/** Personal access tokens (for machines and CI) and sessions (docker login's refresh tokens). */
export function registerTokens(api: FastifyInstance, ctx: ApiContext): void {
  const { hub } = ctx;

  api.post('/users/me/tokens', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    const body = parseBody(CreateToken, request.body);
    let expiresAt: number | undefined;
    if (body.expires_in !== undefined && body.expires_in !== null) {
      const seconds = tokenLifetimeSeconds(body.expires_in);
      if (seconds === undefined) throw badRequest('expires_in: a whole number of seconds or a duration such as 30d or 12h, at most 5 years');
      expiresAt = ctx.clock.now() + seconds * 1000;
    }
    const { token, info } = await hub.tokens.createPersonalAccessToken(caller.account.name, { label: body.label, scopes: body.scopes, expiresAt });
    request.log.info({ account: caller.account.name, token: info.id, scopes: info.scopes }, 'personal access token created');
    // the secret is in this response only: it is kept as a hash
    return reply.code(201).send({ ...tokenJson(info), token });
  });

  api.get('/users/me/tokens', async (request) => {
    const caller = await requireAccountCaller(request, ctx);
    const now = ctx.clock.now();
    const tokens = await hub.tokens.listPersonalAccessTokens(caller.account.name);
    const results = tokens.map((t) => ({ ...tokenJson(t), expired: t.expiresAt !== null && t.expiresAt <= now }));
    return { results, count: results.length };
  });

  api.delete<{ Params: { id: string } }>('/users/me/tokens/:id', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    if (!(await hub.tokens.revokePersonalAccessToken(caller.account.name, request.params.id))) throw notFound('no such token');
    request.log.info({ account: caller.account.name, token: request.params.id }, 'personal access token revoked');
    return reply.code(204).send();
  });

  api.get('/users/me/sessions', async (request) => {
    const caller = await requireAccountCaller(request, ctx);
    // sessions begun before the last password change no longer work: not listed
    const sessions = (await hub.tokens.listRefreshTokens(caller.account.name)).filter((s) => s.createdAt >= caller.account.passwordChangedAt);
    return { results: sessions.map(sessionJson), count: sessions.length };
  });

  api.delete<{ Params: { id: string } }>('/users/me/sessions/:id', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    if (!(await hub.tokens.revokeRefreshToken(caller.account.name, request.params.id))) throw notFound('no such session');
    return reply.code(204).send();
  });
}
