import { z } from 'zod';
import { checkDescriptions } from '../../hub/repository-pages.js';
import { PULL_HISTORY_DAYS } from '../../hub/pull-stats.js';
import { MAX_CATEGORIES_PER_REPOSITORY } from '../../hub/categories.js';
import { subjectOf, unauthorized, type Caller } from './authenticate.js';
import type { ApiContext } from './context.js';
import { badRequest, forbidden } from './problem.js';
import { repositoryJson, repositoryOf, RepositoryPath, RepositorySchema } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';
import { confirmSession } from './users.js';

const UpdateRepository = z
  .strictObject({
    description: z.string().optional().meta({ description: 'one line, at most 100 characters' }),
    full_description: z.string().optional().meta({ description: 'the README, Markdown, at most 25 KB; "" removes it' }),
    is_private: z.boolean().optional(),
    categories: z.array(z.string()).max(MAX_CATEGORIES_PER_REPOSITORY).optional().meta({ description: `slugs from GET /categories, at most ${MAX_CATEGORIES_PER_REPOSITORY}` }),
  })
  .refine((v) => Object.values(v).some((value) => value !== undefined), { message: 'nothing to change: send description, full_description, is_private or categories' });

const DeleteRepository = z.strictObject({
  confirm: z.string().optional().meta({ description: 'the repository’s full name (`namespace/name`): required from a browser session' }),
  password: z.string().optional().meta({ description: 'the account’s password: required from a browser session or a session token' }),
});

const PullsQuery = z.object({
  days: z.coerce.number().int().min(1).max(PULL_HISTORY_DAYS).default(30).meta({ description: `how many days back, today (UTC) included; at most ${PULL_HISTORY_DAYS}` }),
});

const PullHistory = z
  .object({
    days: z.number().int(),
    results: z.array(z.object({ date: z.iso.date().meta({ description: 'a UTC day' }), pulls: z.number().int() })).meta({ description: 'every day, oldest first, zeros included' }),
  })
  .meta({ id: 'PullHistory' });

/**
 * A repository's page: the repository (descriptions, README, visibility, categories, counts),
 * its pull history, and its deletion. `{namespace}/{name}` with `/` inside the name encoded as
 * %2F. A repository the caller may not see answers exactly like a missing one.
 */
export function registerRepositories(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/repositories/{namespace}/{name}',
    summary: 'A repository: descriptions, README, badges, counts, what it holds',
    tags: ['repositories'],
    auth: 'optional',
    params: RepositoryPath,
    responses: { 200: RepositorySchema },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const name = await readable(ctx, caller, params);
      return repositoryJson(await hub.pages.get(subjectOf(caller), name));
    },
  });

  router.route({
    method: 'PATCH',
    path: '/repositories/{namespace}/{name}',
    summary: 'Change a repository’s descriptions, README, visibility or categories',
    description: 'Admin permission on the repository: the owner of the namespace, an owner of its organisation, a team with admin on it, an administrator; a token needs the repo:admin scope.',
    tags: ['repositories'],
    auth: 'signed-in',
    params: RepositoryPath,
    body: UpdateRepository,
    responses: { 200: RepositorySchema },
    problems: ['not-found', 'forbidden', 'plan-limit'],
    handler: async ({ request, caller, params, body }) => {
      const name = await administered(ctx, caller, params);
      // everything is checked before anything changes
      try {
        checkDescriptions({ description: body.description, fullDescription: body.full_description });
      } catch (error) {
        const field = /^full_description/.test((error as Error).message) ? 'full_description' : 'description';
        throw badRequest((error as Error).message, [{ field, message: (error as Error).message.replace(/^[a-z_]+: /, '') }]);
      }
      if (body.categories) {
        const known = new Set((await hub.categories.list()).map((c) => c.slug));
        const unknown = body.categories.filter((slug) => !known.has(slug));
        if (unknown.length > 0) throw badRequest(`categories: unknown ${unknown.join(', ')} (GET /api/v1/categories lists them)`, [{ field: 'categories', message: `unknown: ${unknown.join(', ')}` }]);
      }
      // the one change a plan may refuse goes first, so that a refusal changes nothing
      if (body.is_private !== undefined) await hub.repositories.setVisibility(name, body.is_private, caller.account.name);
      if (body.categories) await hub.categories.set(name, body.categories);
      if (body.description !== undefined || body.full_description !== undefined) {
        await hub.repositories.describe(name, { description: body.description, fullDescription: body.full_description });
      }
      request.log.info({ repository: name, by: caller.account.name, fields: Object.keys(body) }, 'repository changed');
      return repositoryJson(await hub.pages.get(subjectOf(caller), name));
    },
  });

  router.route({
    method: 'DELETE',
    path: '/repositories/{namespace}/{name}',
    summary: 'Delete a repository with its tags and manifests',
    description:
      'Admin permission on the repository (a token needs repo:admin). A browser session confirms with `{"confirm": "<namespace>/<name>", "password": "..."}`; ' +
      'a session token sends its password. Storage is reclaimed later by garbage collection.',
    tags: ['repositories'],
    auth: 'signed-in',
    params: RepositoryPath,
    body: DeleteRepository,
    optionalBody: true,
    responses: { 204: null },
    problems: ['not-found', 'forbidden'],
    handler: async ({ request, caller, params, body }) => {
      const name = await administered(ctx, caller, params);
      if (caller.via === 'browser' && body.confirm !== name) {
        throw badRequest(`to delete the repository with its tags, send {"confirm": "${name}"}`, [{ field: 'confirm', message: `must be "${name}"` }]);
      }
      if (caller.via === 'browser' || caller.via === 'session') await confirmSession(request, ctx, caller.via, caller.account.name, body.password, 'the repository');
      await hub.deleteRepository(name, ctx.registry);
      request.log.info({ repository: name, by: caller.account.name }, 'repository deleted');
      return answer(204);
    },
  });

  router.route({
    method: 'GET',
    path: '/repositories/{namespace}/{name}/pulls',
    summary: 'Pulls of a repository per day',
    tags: ['repositories'],
    auth: 'optional',
    params: RepositoryPath,
    query: PullsQuery,
    responses: { 200: PullHistory },
    problems: ['not-found'],
    handler: async ({ caller, params, query }) => {
      const name = await readable(ctx, caller, params);
      return { days: query.days, results: await hub.pullStats.history(name, query.days) };
    },
  });
}

/**
 * The repository of the path when the caller may see it, else the same not-found as a missing
 * one; an anonymous caller where pulling needs an account is told to sign in.
 */
export async function readable(ctx: ApiContext, caller: Caller | undefined, params: { namespace: string; name: string }): Promise<string> {
  const name = repositoryOf(params);
  if (!caller && (await ctx.hub.settings.get('pullRequiresLogin'))) throw unauthorized(ctx, 'sign in to see repositories');
  await ctx.hub.pages.require(subjectOf(caller), name);
  return name;
}

/** The repository of the path when the caller has admin permission on it; not found when it may not even see it. */
export async function administered(ctx: ApiContext, caller: Caller, params: { namespace: string; name: string }): Promise<string> {
  const name = await readable(ctx, caller, params);
  if (!(await ctx.hub.policy.administers(subjectOf(caller), name))) {
    if (caller.tokenScopes && !caller.tokenScopes.includes('repo:admin')) throw forbidden('this needs a token with the repo:admin scope');
    throw forbidden(`only the owner of "${params.namespace}", a team with admin on it, or an administrator may change ${name}`);
  }
  return name;
}
