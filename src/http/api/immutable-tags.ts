import { z } from 'zod';
import type { ImmutableTagRule } from '../../hub/tag-immutability.js';
import type { ApiContext } from './context.js';
import { notFound } from './problem.js';
import { administered, readable } from './repositories.js';
import { RepositoryPath } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';

const RuleSchema = z
  .object({
    pattern: z.string(),
    created_at: z.string(),
    created_by: z.string().nullable(),
  })
  .meta({ id: 'ImmutableTagRule' });

const CreateRule = z.object({
  pattern: z.string().min(1).max(200).describe('a glob (`v*`, `release-?`) matching the whole tag, or a regular expression between slashes (`/^v\\d+\\.\\d+$/`)'),
});

const PatternQuery = z.object({ pattern: z.string().min(1).max(200) });

function ruleJson(rule: ImmutableTagRule): z.output<typeof RuleSchema> {
  return { pattern: rule.pattern, created_at: new Date(rule.createdAt).toISOString(), created_by: rule.createdBy };
}

const who = 'The repository’s administrators (its owner, an owner of its organisation, a team with admin on it, an administrator).';

/**
 * Immutable tags: per repository, the patterns of tags a push may create but never move, and
 * nobody may delete (docs/immutable-tags.md). A plan feature (tag-immutability).
 */
export function registerImmutableTags(router: ApiRouter, ctx: ApiContext): void {
  const base = '/repositories/{namespace}/{name}/immutable-tags';

  router.route({
    method: 'GET',
    path: base,
    summary: 'List a repository’s immutable tag rules',
    description: 'Anyone who may see the repository.',
    tags: ['tags'],
    auth: 'optional',
    params: RepositoryPath,
    responses: { 200: z.object({ results: z.array(RuleSchema) }) },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const name = await readable(ctx, caller, params);
      return { results: (await ctx.hub.immutability.list(name)).map(ruleJson) };
    },
  });

  router.route({
    method: 'POST',
    path: base,
    summary: 'Add an immutable tag rule',
    description: `${who} A plan feature (tag-immutability). From then on a push that would move a matching tag, or a deletion of one, is refused with DENIED naming the rule; adding a rule twice changes nothing.`,
    tags: ['tags'],
    auth: 'signed-in',
    params: RepositoryPath,
    body: CreateRule,
    responses: { 201: RuleSchema },
    problems: ['not-found', 'forbidden', 'plan-limit', 'validation'],
    handler: async ({ caller, params, body, request }) => {
      const name = await administered(ctx, caller, params);
      const rule = await ctx.hub.immutability.add(name, body.pattern, caller.account.name);
      request.log.info({ repository: name, pattern: body.pattern, by: caller.account.name }, 'immutable tag rule added');
      return answer(201, ruleJson(rule));
    },
  });

  router.route({
    method: 'DELETE',
    path: base,
    summary: 'Remove an immutable tag rule',
    description: `${who} The pattern is a query parameter (a regular expression may hold slashes).`,
    tags: ['tags'],
    auth: 'signed-in',
    params: RepositoryPath,
    query: PatternQuery,
    responses: { 204: null },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params, query, request }) => {
      const name = await administered(ctx, caller, params);
      if (!(await ctx.hub.immutability.remove(name, query.pattern))) throw notFound(`no immutable tag rule "${query.pattern}" on ${name}`);
      request.log.info({ repository: name, pattern: query.pattern, by: caller.account.name }, 'immutable tag rule removed');
      return answer(204);
    },
  });
}
