import { z } from 'zod';
import { isValidRepositoryName, namespaceOf, normalizeRepositoryName, OFFICIAL_NAMESPACE } from '../../oci/names.js';
import type { PullCount } from '../../hub/pull-stats.js';
import { subjectOf, unauthorized, type Caller } from './authenticate.js';
import type { ApiContext } from './context.js';
import { badRequest, forbidden, notFound } from './problem.js';
import type { ApiRouter } from './route.js';
import { OptionalTimestamp } from './schemas.js';

const UpdateRepository = z.strictObject({ private: z.boolean() });

const RepositoryPath = z.object({
  repository: z.string().meta({ description: 'the full name: `alice/app`, `alice/team/app`, or `nginx` for the official `library/nginx`' }),
});

const RepositoryAnswer = z.object({
  namespace: z.string(),
  name: z.string().meta({ description: 'the part after the namespace' }),
  private: z.boolean(),
  official: z.boolean(),
  verified_publisher: z.boolean(),
  pull_count: z.number().int(),
  last_pulled: OptionalTimestamp,
});

/**
 * Repositories by their full name (`alice/app`, `alice/team/app`; a one-part name is an official
 * image, `library/nginx`). A private repository the caller may not see answers exactly like a
 * missing one, whatever the request.
 */
export function registerRepositories(router: ApiRouter, ctx: ApiContext): void {
  router.route({
    method: 'GET',
    path: '/repositories/{repository+}',
    summary: 'A repository: visibility, badges, pulls',
    tags: ['repositories'],
    auth: 'optional',
    params: RepositoryPath,
    responses: { 200: RepositoryAnswer },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const name = repositoryName(params.repository);
      if (!caller && (await ctx.hub.settings.get('pullRequiresLogin'))) throw unauthorized(ctx, 'sign in to see repositories');
      const isPrivate = await visible(ctx, caller, name);
      return { ...repositoryJson(name, isPrivate), ...(await badgesJson(ctx, name)), ...pullsJson(await ctx.hub.pullStats.get(name)) };
    },
  });

  router.route({
    method: 'PATCH',
    path: '/repositories/{repository+}',
    summary: 'Change a repository’s visibility',
    description: 'The owner of the namespace, an owner of its organisation, a team with admin on it, or an administrator; a token needs the repo:admin scope.',
    tags: ['repositories'],
    auth: 'signed-in',
    params: RepositoryPath,
    body: UpdateRepository,
    responses: { 200: RepositoryAnswer },
    problems: ['not-found', 'forbidden', 'plan-limit'],
    handler: async ({ request, caller, params, body }) => {
      const name = repositoryName(params.repository);
      await visible(ctx, caller, name);
      const { account } = caller;
      const namespace = namespaceOf(name);
      if (caller.tokenScopes && !caller.tokenScopes.includes('repo:admin')) {
        throw forbidden('changing visibility needs a token with the repo:admin scope');
      }
      // the namespace's owner, an owner of its organisation, a team with admin on it, an administrator
      if (!(await ctx.hub.policy.administers(subjectOf(caller), name))) {
        throw forbidden(`only the owner of "${namespace}", a team with admin on it, or an administrator may change this repository`);
      }
      await ctx.hub.repositories.setVisibility(name, body.private);
      request.log.info({ repository: name, private: body.private, by: account.name }, 'repository visibility changed');
      return { ...repositoryJson(name, body.private), ...(await badgesJson(ctx, name)), ...pullsJson(await ctx.hub.pullStats.get(name)) };
    },
  });
}

function repositoryName(path: string): string {
  const raw = path.replace(/\/$/, '');
  if (!isValidRepositoryName(raw)) throw badRequest('not a valid repository name');
  try {
    return normalizeRepositoryName(raw);
  } catch {
    throw badRequest('not a valid repository name');
  }
}

/** Whether the repository is private, when the caller may see it; else the same 404 as a missing one. */
async function visible(ctx: ApiContext, caller: Caller | undefined, name: string): Promise<boolean> {
  const { exists, private: isPrivate } = await ctx.hub.repositories.visibility(name);
  const subject = subjectOf(caller);
  if (!exists || (isPrivate && !(await ctx.hub.policy.allowed(subject, name)).has('pull'))) {
    throw notFound(`repository "${name}" not found`);
  }
  return isPrivate;
}

/** `official` for the official images (`library`); `verified_publisher` when an administrator vouched for the organisation. */
async function badgesJson(ctx: ApiContext, fullName: string) {
  const namespace = namespaceOf(fullName);
  const verified = await ctx.hub.accounts.verifiedAmong([namespace]);
  return { official: namespace === OFFICIAL_NAMESPACE, verified_publisher: verified.has(namespace) };
}

/** Docker Hub's shape: `name` is the part after the namespace. */
function repositoryJson(fullName: string, isPrivate: boolean) {
  const namespace = namespaceOf(fullName);
  return { namespace, name: fullName.slice(namespace.length + 1), private: isPrivate };
}

/** Docker Hub's `pull_count`, and when it was last pulled (null: never); written within a second of the pull. */
function pullsJson(pulls: PullCount) {
  return { pull_count: pulls.pulls, last_pulled: pulls.lastPulledAt === null ? null : new Date(pulls.lastPulledAt).toISOString() };
}
