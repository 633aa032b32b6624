import { z } from 'zod';
import { subjectOf, type Caller } from './authenticate.js';
import type { ApiContext } from './context.js';
import { forbidden, notFound } from './problem.js';
import { pageOf, paged, PageQuery } from './paging.js';
import { readable } from './repositories.js';
import { RepositoryPath, repositorySummaryJson, RepositorySummarySchema } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';

const UserPath = z.object({ username: z.string() });

/** Stars: a user stars a repository it can see; anyone lists what a user starred, as far as they may see it. */
export function registerStars(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  for (const method of ['PUT', 'DELETE'] as const) {
    router.route({
      method,
      path: '/repositories/{namespace}/{name}/star',
      summary: method === 'PUT' ? 'Star a repository' : 'Remove a star',
      description: 'A user (not an organisation token); starring twice, or removing a star that is not there, changes nothing.',
      tags: ['stars'],
      auth: 'signed-in',
      params: RepositoryPath,
      responses: { 204: null },
      problems: ['not-found', 'forbidden'],
      handler: async ({ caller, params }) => {
        const name = await readable(ctx, caller, params);
        const user = starrer(caller);
        if (method === 'PUT') await hub.stars.star(user, name);
        else await hub.stars.unstar(user, name);
        return answer(204);
      },
    });
  }

  router.route({
    method: 'GET',
    path: '/users/me/starred',
    summary: 'What the caller starred',
    tags: ['stars'],
    auth: 'signed-in',
    query: PageQuery,
    responses: { 200: paged(RepositorySummarySchema) },
    handler: async ({ request, caller, query }) => {
      const found = await hub.pages.starred(subjectOf(caller), caller.account.name, { page: query.page, pageSize: query.page_size });
      return pageOf(request, query, found.count, found.results.map(repositorySummaryJson));
    },
  });

  router.route({
    method: 'GET',
    path: '/users/{username}/starred',
    summary: 'What a user starred (only the repositories the caller may see)',
    tags: ['stars'],
    auth: 'optional',
    params: UserPath,
    query: PageQuery,
    responses: { 200: paged(RepositorySummarySchema) },
    problems: ['not-found'],
    handler: async ({ request, caller, params, query }) => {
      const account = await hub.accounts.get(params.username);
      if (!account || account.kind !== 'user') throw notFound(`no user "${params.username}"`);
      const found = await hub.pages.starred(subjectOf(caller), account.name, { page: query.page, pageSize: query.page_size });
      return pageOf(request, query, found.count, found.results.map(repositorySummaryJson));
    },
  });
}

/** Stars are a person's: an organisation's token has none. */
function starrer(caller: Caller): string {
  if (caller.account.kind !== 'user') throw forbidden('an organisation does not star repositories: sign in as a user');
  return caller.account.name;
}
