import { z } from 'zod';
import { SEARCH_ORDERINGS } from '../../hub/search.js';
import { subjectOf } from './authenticate.js';
import type { ApiContext } from './context.js';
import { pageOf, paged, PageQuery } from './paging.js';
import { repositorySummaryJson, RepositorySummarySchema } from './repository-json.js';
import type { ApiRouter } from './route.js';

/** `true`/`false` in a query string; anything else is a validation error. */
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

const SearchQuery = PageQuery.extend({
  q: z.string().max(255).default('').meta({ description: 'words, each matched as the start of a word of a name, namespace, description or category; empty: everything' }),
  is_official: flag.optional(),
  is_verified_publisher: flag.optional(),
  category: z.string().optional().meta({ description: 'a category’s slug' }),
  type: z.enum(['image', 'artifact']).optional(),
  ordering: z.enum(SEARCH_ORDERINGS).default('best').meta({
    description: 'best: the exact name first, then official images, verified publishers, relevance (name before namespace and categories, before description), pulls, stars',
  }),
});

const SuggestQuery = z.object({ q: z.string().max(255).default('').meta({ description: 'the start of a repository’s name, or of namespace/name' }) });

const Suggestions = z
  .object({
    results: z.array(z.object({ namespace: z.string(), name: z.string(), is_official: z.boolean(), is_verified_publisher: z.boolean() })).meta({ description: 'at most 10' }),
  })
  .meta({ id: 'Suggestions' });

/** Search and suggestions over what the caller may see (the engine: hub/search.ts). */
export function registerSearchRoutes(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/search',
    summary: 'Search repositories',
    description: 'Filters, ranking, counting and paging happen in the database’s full-text index, over the repositories the caller may see.',
    tags: ['search'],
    auth: 'optional',
    query: SearchQuery,
    responses: { 200: paged(RepositorySummarySchema) },
    handler: async ({ request, caller, query }) => {
      const found = await hub.search.search(subjectOf(caller), {
        query: query.q,
        page: query.page,
        pageSize: query.page_size,
        ordering: query.ordering,
        ...(query.is_official !== undefined ? { official: query.is_official } : {}),
        ...(query.is_verified_publisher !== undefined ? { verifiedPublisher: query.is_verified_publisher } : {}),
        ...(query.category !== undefined ? { category: query.category } : {}),
        ...(query.type !== undefined ? { type: query.type } : {}),
      });
      return pageOf(request, query, found.count, found.results.map(repositorySummaryJson));
    },
  });

  router.route({
    method: 'GET',
    path: '/search/suggest',
    summary: 'Repository names that start with what was typed',
    tags: ['search'],
    auth: 'optional',
    query: SuggestQuery,
    responses: { 200: Suggestions },
    handler: async ({ caller, query }) => {
      const found = await hub.search.suggest(subjectOf(caller), query.q);
      return { results: found.map((s) => ({ namespace: s.namespace, name: s.name, is_official: s.isOfficial, is_verified_publisher: s.isVerifiedPublisher })) };
    },
  });
}
