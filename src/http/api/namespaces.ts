import { z } from 'zod';
import { checkDescriptions, NAMESPACE_ORDERINGS } from '../../hub/repository-pages.js';
import { isValidRepositoryName, normalizeRepositoryName, OFFICIAL_NAMESPACE } from '../../oci/names.js';
import { subjectOf, type Caller } from './authenticate.js';
import type { ApiContext } from './context.js';
import { planJson, PlanSchema } from './plans.js';
import { badRequest, forbidden, notFound } from './problem.js';
import { pageOf, paged, PageQuery } from './paging.js';
import { repositoryJson, RepositorySchema, repositorySummaryJson, RepositorySummarySchema } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';
import { Timestamp } from './schemas.js';

const SetPlan = z.strictObject({ plan: z.string() });

const CreateRepository = z.strictObject({
  name: z.string().meta({ description: 'inside the namespace: `app`, or `team/app`' }),
  is_private: z.boolean().optional().meta({ description: 'default: the namespace’s default visibility' }),
  description: z.string().optional(),
  full_description: z.string().optional(),
});

const NamespaceInfo = z
  .object({
    name: z.string(),
    kind: z.enum(['user', 'organization']),
    is_official: z.boolean(),
    is_verified_publisher: z.boolean(),
    date_joined: Timestamp,
  })
  .meta({ id: 'Namespace' });

const NamespaceRepositoriesQuery = PageQuery.extend({
  ordering: z.enum(NAMESPACE_ORDERINGS).default('name'),
  name: z.string().max(255).optional().meta({ description: 'a part of the repository’s name' }),
});

export const NamespacePath = z.object({ namespace: z.string().meta({ description: 'an account or an organisation' }) });

const Usage = z.object({
  namespace: z.string(),
  plan: PlanSchema.meta({ description: 'the plan that applies: its own, or that of the account it is billed to' }),
  billed_to: z.string().meta({ description: 'whose allowance applies: the namespace itself, or the user an organisation without a plan of its own is billed to' }),
  billed_namespaces: z.array(z.string()).meta({ description: 'every namespace that shares that allowance; storage and private repositories count for them together' }),
  storage_bytes: z.number().int().meta({ description: 'of every namespace sharing the allowance, added up' }),
  private_repositories: z.number().int().meta({ description: 'of every namespace sharing the allowance' }),
  limits: z.object({ storage_bytes: z.number().int().nullable(), private_repositories: z.number().int().nullable() }),
  read_only_repositories: z.array(z.string()).meta({ description: 'private repositories of this namespace over the limit after a downgrade: pulls work, pushes are refused' }),
});

const PlanChange = z.object({
  namespace: z.string(),
  status: z.enum(['granted', 'pending']),
  plan: PlanSchema,
  next: z.string().optional().meta({ description: 'when pending: what the plan provider needs next' }),
});


/**
 * A namespace (a user or an organisation) as a whole: its usage against its plan, its plan (set
 * through the plan provider: an administrator grants it), and repositories created before their
 * first push.
 */
export function registerNamespaces(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/namespaces/{namespace}/usage',
    summary: 'A namespace’s usage against its plan',
    description: 'For the account itself, the owners of the organisation, and administrators (it names private repositories).',
    tags: ['namespaces', 'plans'],
    auth: 'signed-in',
    params: NamespacePath,
    responses: { 200: Usage },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const namespace = await existing(ctx, params.namespace);
      if (!(await mayView(ctx, caller, namespace))) throw notFound(`no account or organisation "${namespace}"`);
      const usage = await hub.limits.usage.of(namespace);
      return {
        namespace,
        plan: planJson(usage.plan),
        // whose allowance applies (an organisation without a plan of its own: its creator's), and
        // every namespace that shares it: the counts below are theirs together
        billed_to: usage.billedTo,
        billed_namespaces: usage.namespaces,
        storage_bytes: usage.storageBytes,
        private_repositories: usage.privateRepositories,
        limits: { storage_bytes: usage.plan.storageBytes, private_repositories: usage.plan.privateRepositories },
        // private repositories over the plan's limit after a downgrade: pulls work, pushes are refused
        read_only_repositories: usage.readOnly,
      };
    },
  });

  router.route({
    method: 'PUT',
    path: '/namespaces/{namespace}/plan',
    summary: 'Move a namespace to a plan',
    description: 'Through the plan provider: the built-in one is an administrator granting it (202 while a change waits for the provider).',
    tags: ['namespaces', 'plans'],
    auth: 'account',
    params: NamespacePath,
    body: SetPlan,
    responses: { 200: PlanChange, 202: PlanChange },
    problems: ['not-found'],
    handler: async ({ request, caller, params, body }) => {
      const namespace = await existing(ctx, params.namespace);
      const change = await hub.plans.assign(namespace, body.plan, { name: caller.account.name, admin: caller.account.admin });
      request.log.info({ namespace, plan: body.plan, status: change.status, by: caller.account.name, provider: hub.plans.provider.name }, 'plan change');
      if (change.status === 'pending') return answer(202, { namespace, status: 'pending' as const, next: change.next, plan: planJson(change.plan) });
      return { namespace, status: 'granted' as const, plan: planJson(change.plan) };
    },
  });

  router.route({
    method: 'GET',
    path: '/namespaces/{namespace}',
    summary: 'A namespace: a user or an organisation',
    tags: ['namespaces'],
    auth: 'optional',
    params: NamespacePath,
    responses: { 200: NamespaceInfo },
    problems: ['not-found'],
    handler: async ({ params }) => {
      const namespace = await existing(ctx, params.namespace);
      const account = (await hub.accounts.get(namespace))!;
      return {
        name: namespace,
        kind: account.kind === 'organization' ? ('organization' as const) : ('user' as const),
        is_official: namespace === OFFICIAL_NAMESPACE,
        is_verified_publisher: account.verifiedPublisher,
        date_joined: new Date(account.createdAt).toISOString(),
      };
    },
  });

  router.route({
    method: 'GET',
    path: '/namespaces/{namespace}/repositories',
    summary: 'A namespace’s repositories that the caller may see',
    tags: ['namespaces', 'repositories'],
    auth: 'optional',
    params: NamespacePath,
    query: NamespaceRepositoriesQuery,
    responses: { 200: paged(RepositorySummarySchema) },
    problems: ['not-found'],
    handler: async ({ request, caller, params, query }) => {
      const namespace = await existing(ctx, params.namespace);
      const found = await hub.pages.listNamespace(subjectOf(caller), namespace, { page: query.page, pageSize: query.page_size, ordering: query.ordering, name: query.name });
      return pageOf(request, query, found.count, found.results.map(repositorySummaryJson));
    },
  });

  router.route({
    method: 'POST',
    path: '/namespaces/{namespace}/repositories',
    summary: 'Create a repository before its first push',
    tags: ['namespaces', 'repositories'],
    auth: 'signed-in',
    params: NamespacePath,
    body: CreateRepository,
    responses: { 201: RepositorySchema },
    problems: ['not-found', 'forbidden', 'conflict', 'plan-limit'],
    handler: async ({ request, caller, params, body }) => {
      const namespace = await existing(ctx, params.namespace);
      const raw = `${namespace}/${body.name}`;
      if (!isValidRepositoryName(raw)) throw badRequest('name: not a valid repository name', [{ field: 'name', message: 'not a valid repository name' }]);
      const name = normalizeRepositoryName(raw);
      if (!(await hub.policy.administers(subjectOf(caller), name))) {
        throw forbidden(`only the owner of "${namespace}", a team with admin on it, or an administrator may create repositories there`);
      }
      try {
        checkDescriptions({ description: body.description, fullDescription: body.full_description });
      } catch (error) {
        throw badRequest((error as Error).message);
      }
      const account = await hub.accounts.get(namespace);
      const isPrivate = body.is_private ?? account?.defaultPrivate ?? false;
      await hub.repositories.create(name, isPrivate);
      if (body.description !== undefined || body.full_description !== undefined) {
        await hub.repositories.describe(name, { description: body.description, fullDescription: body.full_description });
      }
      request.log.info({ repository: name, private: isPrivate, by: caller.account.name }, 'repository created');
      return repositoryJson(await hub.pages.get(subjectOf(caller), name));
    },
  });
}

/** The namespace of the path, when it is an account or organisation. */
export async function existing(ctx: ApiContext, namespace: string): Promise<string> {
  if (!isValidRepositoryName(`${namespace}/x`) || namespace.includes('/')) throw badRequest('not a valid namespace');
  // the official namespace exists from the start, written when first needed
  if (namespace === OFFICIAL_NAMESPACE) await ctx.hub.organizations.ensureOfficial();
  if (!(await ctx.hub.accounts.get(namespace))) throw notFound(`no account or organisation "${namespace}"`);
  return namespace;
}

/**
 * Its usage (which names private repositories) is seen by the account itself, the owners of the
 * organisation, and administrators; not by members, nor by a token limited to some repositories.
 */
export async function mayView(ctx: ApiContext, caller: Caller, namespace: string): Promise<boolean> {
  if (caller.account.admin) return true;
  if (caller.account.name === namespace) return !caller.tokenRepositories;
  return ctx.hub.organizations.mayManage(namespace, caller.account);
}
