import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { secretKind } from '../../auth/secret-token.js';
import type { Account } from '../../hub/accounts.js';
import { SESSION_LIFETIME_MS } from '../../hub/browser-sessions.js';
import { authenticate, checkPassword, issueSession, type Caller } from './authenticate.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { ApiProblem, badRequest, forbidden } from './problem.js';
import { answer, type ApiRouter } from './route.js';
import { Timestamp } from './schemas.js';
import { clearSessionCookies, setSessionCookies } from './session-cookie.js';

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

const DeleteAccount = z.strictObject({
  confirm: z.string().meta({ description: 'the account name, as a confirmation' }),
  password: z.string().optional().meta({ description: 'required when the caller is a session' }),
});

export const User = z
  .object({
    username: z.string(),
    email: z.string().nullable(),
    admin: z.boolean(),
    default_private: z.boolean().meta({ description: 'whether repositories created by a first push are private' }),
    created_at: Timestamp,
    plan: z.string().meta({ description: 'the name of its plan (GET /plans/{name})' }),
  })
  .meta({ id: 'User' });

const Session = z
  .object({
    token: z.string().meta({ description: 'a Bearer token for /api/v1' }),
    expires_in: z.number().int().meta({ description: 'seconds' }),
  })
  .meta({ id: 'SessionToken' });

export const DeletedRepositories = z.object({ count: z.number().int(), results: z.array(z.string()) });

export function userJson(account: Account): z.output<typeof User> {
  return {
    username: account.name,
    email: account.email,
    admin: account.admin,
    default_private: account.defaultPrivate,
    created_at: iso(account.createdAt)!,
    plan: account.plan,
  };
}

/** Sign-up, sign-in and the caller's own account. */
export function registerUsers(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'POST',
    path: '/users',
    summary: 'Sign up',
    description: 'Creates an account (it does not sign in). While sign-up is closed, only an administrator creates accounts.',
    tags: ['users'],
    // credentials are read only while sign-up is closed
    auth: 'public',
    body: SignUp,
    responses: { 201: User },
    problems: ['forbidden', 'conflict', 'unauthorized', 'too-many-requests'],
    handler: async ({ request, body }) => {
      if (!(await hub.settings.get('signupOpen'))) {
        // an administrator still creates accounts when sign-up is closed
        const caller = await authenticate(request, ctx);
        if (!caller || caller.via === 'pat' || !caller.account.admin) {
          throw forbidden('sign-up is closed on this registry: ask an administrator for an account');
        }
      }
      const email = body.email === null || body.email === '' ? undefined : body.email;
      return userJson(await hub.accounts.create({ name: body.username, password: body.password, email }));
    },
  });

  router.route({
    method: 'POST',
    path: '/users/login',
    summary: 'Sign in for a session token',
    description: 'A short-lived Bearer token for scripts; a password change ends it.',
    tags: ['users'],
    auth: 'public',
    body: SignIn,
    responses: { 200: Session },
    problems: ['not-implemented', 'forbidden', 'unauthorized', 'too-many-requests'],
    handler: async ({ request, body }) => {
      if (!ctx.auth) {
        throw new ApiProblem(
          'not-implemented',
          'session tokens need token authentication, and this server runs with PIER_AUTH=open: send Basic credentials with each request instead',
        );
      }
      if (secretKind(body.password) === 'pat') {
        throw forbidden('a personal access token does not start a session: send it as the password of Basic credentials, or as a Bearer token');
      }
      const caller = await checkPassword(request, ctx, body.username, body.password);
      return issueSession(ctx, caller.account);
    },
  });

  router.route({
    method: 'GET',
    path: '/users/me',
    summary: 'The caller’s account',
    tags: ['users'],
    auth: 'signed-in',
    responses: { 200: User },
    handler: async ({ caller }) => userJson(caller.account),
  });

  router.route({
    method: 'PATCH',
    path: '/users/me',
    summary: 'Change the caller’s account settings',
    tags: ['users'],
    auth: 'account',
    body: UpdateAccount,
    responses: { 200: User },
    handler: async ({ caller, body }) => {
      if (body.default_private !== undefined) await hub.accounts.setDefaultPrivate(caller.account.name, body.default_private);
      return userJson((await hub.accounts.get(caller.account.name))!);
    },
  });

  router.route({
    method: 'PUT',
    path: '/users/me/password',
    summary: 'Change the caller’s password',
    description:
      'Ends every session and docker login begun before, this one included. A browser gets a new session in its cookies (204); ' +
      'a caller with a session token gets a new one (200); Basic callers just use the new password (200 with a session token, or 204 when the server runs without session tokens).',
    tags: ['users'],
    auth: 'account',
    body: ChangePassword,
    responses: { 200: Session, 204: null },
    handler: async ({ request, reply, caller, body }) => {
      await confirmPassword(request, ctx, caller.account.name, body.current_password, 'current_password');
      await hub.accounts.setPassword(caller.account.name, body.new_password);
      const account = (await hub.accounts.get(caller.account.name))!;
      if (caller.via === 'browser') {
        // the browser that changed it stays signed in, with a session begun after the change
        const { secret } = await hub.browserSessions.start(account, request.headers['user-agent']);
        setSessionCookies(request, reply, ctx, secret, SESSION_LIFETIME_MS / 1000);
        return answer(204);
      }
      if (!ctx.auth) return answer(204);
      return issueSession(ctx, account);
    },
  });

  router.route({
    method: 'DELETE',
    path: '/users/me',
    summary: 'Delete the caller’s account and all its repositories',
    description: 'A session (a browser left open) must send the password again.',
    tags: ['users'],
    auth: 'account',
    body: DeleteAccount,
    responses: { 200: z.object({ username: z.string(), repositories: DeletedRepositories }) },
    problems: ['conflict'],
    handler: async ({ request, reply, caller, body }) => {
      const name = caller.account.name;
      if (body.confirm !== name) throw badRequest(`to delete the account and all its repositories, send {"confirm": "${name}"}`);
      await confirmSession(request, ctx, caller.via, name, body.password, 'the account');
      const { repositories } = await hub.deleteAccount(name, ctx.registry);
      if (caller.via === 'browser') clearSessionCookies(request, reply, ctx);
      request.log.info({ account: name, repositories: repositories.length }, 'account deleted');
      return { username: name, repositories: { results: repositories, count: repositories.length } };
    },
  });
}

/**
 * A session (a browser left open, or a session token) may not be its owner at the keyboard:
 * deleting something for good needs the password again. Password callers just sent it; tokens
 * never get this far (`account` routes refuse them).
 */
export async function confirmSession(request: FastifyRequest, ctx: ApiContext, via: Caller['via'], name: string, password: string | undefined, what: string): Promise<void> {
  if (via === 'password') return;
  if (password === undefined) throw badRequest(`password: required to delete ${what}`, [{ field: 'password', message: 'required' }]);
  await confirmPassword(request, ctx, name, password, 'password');
}

/** Re-checks the signed-in caller's password (throttled); a wrong one is a 403, not a sign-out. */
export async function confirmPassword(request: FastifyRequest, ctx: ApiContext, name: string, password: string, field: string): Promise<void> {
  if (secretKind(password) === 'pat') throw forbidden(`${field}: the account's password, not a token`);
  try {
    await checkPassword(request, ctx, name, password);
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 401) throw forbidden(`${field}: the password is not correct`);
    throw error;
  }
}
