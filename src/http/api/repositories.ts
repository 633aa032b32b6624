import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Subject } from '../../auth/access-policy.js';
import { namespaceOf } from '../../hub/account-names.js';
import { isValidRepositoryName, normalizeRepositoryName, OFFICIAL_NAMESPACE } from '../../oci/names.js';
import { authenticate, requireCaller, unauthorized, type Caller } from './authenticate.js';
import { parseBody } from './body.js';
import type { ApiContext } from './context.js';
import { badRequest, forbidden, notFound } from './problem.js';

const UpdateRepository = z.strictObject({ private: z.boolean() });

/**
 * Repositories by their full name (`alice/app`, `alice/team/app`; a one-part name is an official
 * image, `library/nginx`). A private repository the caller may not see answers exactly like a
 * missing one, whatever the request.
 */
export function registerRepositories(api: FastifyInstance, ctx: ApiContext): void {
  api.get<{ Params: { '*': string } }>('/repositories/*', async (request) => {
    const caller = await authenticate(request, ctx);
    const name = repositoryName(request);
    if (!caller && (await ctx.hub.settings.get('pullRequiresLogin'))) throw unauthorized(ctx, 'sign in to see repositories');
    return repositoryJson(name, await visible(ctx, caller, name));
  });

  api.patch<{ Params: { '*': string } }>('/repositories/*', async (request) => {
    const caller = await requireCaller(request, ctx);
    const name = repositoryName(request);
    const body = parseBody(UpdateRepository, request.body);
    await visible(ctx, caller, name);
    const { account } = caller;
    const namespace = namespaceOf(name);
    if (!account.admin && (namespace !== account.name || namespace === OFFICIAL_NAMESPACE)) {
      throw forbidden(`only the owner of "${namespace}" or an administrator may change this repository`);
    }
    if (caller.tokenScopes && !caller.tokenScopes.includes('repo:admin')) {
      throw forbidden('changing visibility needs a token with the repo:admin scope');
    }
    await ctx.hub.repositories.setVisibility(name, body.private);
    request.log.info({ repository: name, private: body.private, by: account.name }, 'repository visibility changed');
    return repositoryJson(name, body.private);
  });
}

function repositoryName(request: FastifyRequest<{ Params: { '*': string } }>): string {
  const raw = request.params['*'].replace(/\/$/, '');
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
  const subject: Subject = caller
    ? { kind: 'account', name: caller.account.name, admin: caller.account.admin, tokenScopes: caller.tokenScopes }
    : { kind: 'anonymous' };
  if (!exists || (isPrivate && !(await ctx.hub.policy.allowed(subject, name)).has('pull'))) {
    throw notFound(`repository "${name}" not found`);
  }
  return isPrivate;
}

/** Docker Hub's shape: `name` is the part after the namespace. */
function repositoryJson(fullName: string, isPrivate: boolean) {
  const namespace = namespaceOf(fullName);
  return { namespace, name: fullName.slice(namespace.length + 1), private: isPrivate };
}
