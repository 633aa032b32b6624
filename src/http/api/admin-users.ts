import { z } from 'zod';
import type { ApiContext } from './context.js';
import { forbidden, notFound } from './problem.js';
import { PageQuery, paged, pageOf, pageWindow } from './paging.js';
import type { ApiRouter } from './route.js';
import { DeletedRepositories, User, userJson } from './users.js';

const UserPath = z.object({ username: z.string() });

const UserQuery = PageQuery.extend({
  q: z.string().max(100).optional().meta({ description: 'only users whose name or email contains this (case-insensitive)' }),
});

const UpdateUser = z
  .strictObject({ admin: z.boolean().optional().meta({ description: 'make the user an administrator, or not (the last one stays)' }) })
  .refine((v) => v.admin !== undefined, { message: 'nothing to change: send admin' });

const ResetPassword = z.strictObject({ new_password: z.string() });

/**
 * Administration of accounts: the paged list of users, making one an administrator, resetting a
 * password (which ends that user's browser sessions, session tokens and docker logins; personal
 * access tokens stay: they are the machines' credentials), and deleting an account.
 */
export function registerAdminUsers(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  /** A user by name: an organisation, a deleted or an unknown account are all "no user". */
  async function user(name: string) {
    const account = await hub.accounts.get(name);
    if (!account || account.kind !== 'user') throw notFound(`no user "${name}"`);
    return account;
  }

  router.route({
    method: 'GET',
    path: '/users',
    summary: 'List users',
    description: 'By name, paged; `q` filters by name or email.',
    tags: ['administration'],
    auth: 'admin',
    query: UserQuery,
    responses: { 200: paged(User) },
    handler: async ({ request, query }) => {
      const { count, accounts } = await hub.accounts.page({ q: query.q || undefined, ...pageWindow(query) });
      return pageOf(request, query, count, accounts.map(userJson));
    },
  });

  router.route({
    method: 'PATCH',
    path: '/users/{username}',
    summary: 'Change a user (administrator or not)',
    description: 'The last administrator cannot be demoted (409).',
    tags: ['administration'],
    auth: 'admin',
    params: UserPath,
    body: UpdateUser,
    responses: { 200: User },
    problems: ['not-found', 'conflict'],
    handler: async ({ request, caller, params, body }) => {
      await user(params.username);
      const account = await hub.accounts.setAdmin(params.username, body.admin!);
      request.log.info({ account: account.name, admin: account.admin, by: caller.account.name }, 'administrator flag changed');
      return userJson(account);
    },
  });

  router.route({
    method: 'PUT',
    path: '/users/{username}/password',
    summary: 'Reset a user’s password',
    description: 'Ends the user’s browser sessions, session tokens and docker logins; their personal access tokens keep working.',
    tags: ['administration'],
    auth: 'admin',
    params: UserPath,
    body: ResetPassword,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ request, caller, params, body }) => {
      await user(params.username);
      await hub.accounts.setPassword(params.username, body.new_password);
      request.log.info({ account: params.username, by: caller.account.name }, 'password reset by an administrator');
    },
  });

  router.route({
    method: 'DELETE',
    path: '/users/{username}',
    summary: 'Delete a user and all their repositories',
    description: 'The name stays reserved. Your own account is deleted with DELETE /users/me (it asks for the password); the last administrator, and the last owner of an organisation, cannot be deleted (409).',
    tags: ['administration'],
    auth: 'admin',
    params: UserPath,
    responses: { 200: z.object({ username: z.string(), repositories: DeletedRepositories }) },
    problems: ['not-found', 'conflict'],
    handler: async ({ request, caller, params }) => {
      const account = await user(params.username);
      if (account.name === caller.account.name) throw forbidden('delete your own account with DELETE /api/v1/users/me: it asks for your password');
      const { repositories } = await hub.deleteAccount(account.name, ctx.registry);
      request.log.info({ account: account.name, repositories: repositories.length, by: caller.account.name }, 'account deleted by an administrator');
      return { username: account.name, repositories: { results: repositories, count: repositories.length } };
    },
  });
}
