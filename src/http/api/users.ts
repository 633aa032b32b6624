import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { secretKind } from '../../auth/secret-token.js';
import type { Account } from '../../hub/accounts.js';
import { authenticate, checkPassword, issueSession, requireAccountCaller, requireCaller } from './authenticate.js';
import { iso, parseBody } from './body.js';
import type { ApiContext } from './context.js';
import { ApiProblem, badRequest, forbidden } from './problem.js';

const SignUp = z.strictObject({
  username: z.string(),
  password: z.string(),
  email: z.string().nullish(),
});

const SignIn = z.strictObject({ username: z.string(), password: z.string() });

const ChangePassword = z.strictObject({ current_password: z.string(), new_password: z.string() });

const UpdateAccount = z
  .strictObject({ default_private: z.boolean().optional() })
  .refine((v) => v.default_private !== undefined, { message: 'nothing to change: send default_private' });

const DeleteAccount = z.strictObject({ confirm: z.string(), password: z.string().optional() });

export function userJson(account: Account) {
  return {
    username: account.name,
    email: account.email,
    admin: account.admin,
    default_private: account.defaultPrivate,
    created_at: iso(account.createdAt),
  };
}

/** Sign-up, sign-in and the caller's own account. */
export function registerUsers(api: FastifyInstance, ctx: ApiContext): void {
  const { hub } = ctx;

  api.post('/users', async (request, reply) => {
    const body = parseBody(SignUp, request.body);
    if (!(await hub.settings.get('signupOpen'))) {
      // an administrator still creates accounts when sign-up is closed
      const caller = await authenticate(request, ctx);
      if (!caller || caller.via === 'pat' || !caller.account.admin) {
        throw forbidden('sign-up is closed on this registry: ask an administrator for an account');
      }
    }
    const email = body.email === null || body.email === '' ? undefined : body.email;
    const account = await hub.accounts.create({ name: body.username, password: body.password, email });
    return reply.code(201).send(userJson(account));
  });

  api.post('/users/login', async (request) => {
    const body = parseBody(SignIn, request.body);
    if (!ctx.auth) {
      throw new ApiProblem(501, 'sign-in sessions need token authentication, and this server runs with PIER_AUTH=open: send Basic credentials with each request instead');
    }
    if (secretKind(body.password) === 'pat') {
      throw forbidden('a personal access token does not start a session: send it as the password of Basic credentials, or as a Bearer token');
    }
    const caller = await checkPassword(request, ctx, body.username, body.password);
    return issueSession(ctx, caller.account);
  });

  api.get('/users/me', async (request) => userJson((await requireCaller(request, ctx)).account));

  api.patch('/users/me', async (request) => {
    const caller = await requireAccountCaller(request, ctx);
    const body = parseBody(UpdateAccount, request.body);
    if (body.default_private !== undefined) await hub.accounts.setDefaultPrivate(caller.account.name, body.default_private);
    return userJson((await hub.accounts.get(caller.account.name))!);
  });

  api.put('/users/me/password', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    const body = parseBody(ChangePassword, request.body);
    await confirmPassword(request, ctx, caller.account.name, body.current_password, 'current_password');
    await hub.accounts.setPassword(caller.account.name, body.new_password);
    // every session and docker login begun before now has ended, this one included: hand over a new one
    if (!ctx.auth) return reply.code(204).send();
    return issueSession(ctx, (await hub.accounts.get(caller.account.name))!);
  });

  api.delete('/users/me', async (request) => {
    const caller = await requireAccountCaller(request, ctx);
    const body = parseBody(DeleteAccount, request.body);
    const name = caller.account.name;
    if (body.confirm !== name) throw badRequest(`to delete the account and all its repositories, send {"confirm": "${name}"}`);
    // a session may be a browser left open: deleting needs the password again
    if (caller.via === 'session') {
      if (body.password === undefined) throw badRequest('password: required to delete the account');
      await confirmPassword(request, ctx, name, body.password, 'password');
    }
    const { repositories } = await hub.deleteAccount(name, ctx.registry);
    request.log.info({ account: name, repositories: repositories.length }, 'account deleted');
    return { username: name, repositories: { results: repositories, count: repositories.length } };
  });
}

/** Re-checks the signed-in caller's password (throttled); a wrong one is a 403, not a sign-out. */
async function confirmPassword(
  request: Parameters<typeof checkPassword>[0],
  ctx: ApiContext,
  name: string,
  password: string,
  field: string,
): Promise<void> {
  if (secretKind(password) === 'pat') throw forbidden(`${field}: the account's password, not a token`);
  try {
    await checkPassword(request, ctx, name, password);
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 401) throw forbidden(`${field}: the password is not correct`);
    throw error;
  }
}
