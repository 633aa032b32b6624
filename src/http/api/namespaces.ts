import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isValidRepositoryName, normalizeRepositoryName } from '../../oci/names.js';
import { requireAccountCaller, requireCaller, subjectOf, type Caller } from './authenticate.js';
import { parseBody } from './body.js';
import type { ApiContext } from './context.js';
import { planJson } from './plans.js';
import { badRequest, forbidden, notFound } from './problem.js';

const SetPlan = z.strictObject({ plan: z.string() });

const CreateRepository = z.strictObject({ name: z.string(), private: z.boolean().optional() });

type NamespaceRequest = FastifyRequest<{ Params: { namespace: string } }>;

/**
 * A namespace (a user or an organisation) as a whole: its usage against its plan, its plan (set
 * through the plan provider: an administrator grants it), and repositories created before their
 * first push.
 */
export function registerNamespaces(api: FastifyInstance, ctx: ApiContext): void {
  const { hub } = ctx;

  api.get<{ Params: { namespace: string } }>('/namespaces/:namespace/usage', async (request) => {
    const caller = await requireCaller(request, ctx);
    const namespace = await existing(ctx, request);
    if (!(await mayView(ctx, caller, namespace))) throw notFound(`no account or organisation "${namespace}"`);
    const usage = await hub.limits.usage.of(namespace);
    return {
      namespace,
      plan: planJson(usage.plan),
      storage_bytes: usage.storageBytes,
      private_repositories: usage.privateRepositories,
      limits: { storage_bytes: usage.plan.storageBytes, private_repositories: usage.plan.privateRepositories },
      // private repositories over the plan's limit after a downgrade: pulls work, pushes are refused
      read_only_repositories: usage.readOnly,
    };
  });

  api.put<{ Params: { namespace: string } }>('/namespaces/:namespace/plan', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    const namespace = await existing(ctx, request);
    const body = parseBody(SetPlan, request.body);
    const change = await hub.plans.assign(namespace, body.plan, { name: caller.account.name, admin: caller.account.admin });
    request.log.info({ namespace, plan: body.plan, status: change.status, by: caller.account.name, provider: hub.plans.provider.name }, 'plan change');
    if (change.status === 'pending') return reply.code(202).send({ namespace, status: 'pending', next: change.next, plan: planJson(change.plan) });
    return { namespace, status: 'granted', plan: planJson(change.plan) };
  });

  api.post<{ Params: { namespace: string } }>('/namespaces/:namespace/repositories', async (request, reply) => {
    const caller = await requireCaller(request, ctx);
    const namespace = await existing(ctx, request);
    const body = parseBody(CreateRepository, request.body);
    const raw = `${namespace}/${body.name}`;
    if (!isValidRepositoryName(raw)) throw badRequest('name: not a valid repository name');
    const name = normalizeRepositoryName(raw);
    if (!(await hub.policy.administers(subjectOf(caller), name))) {
      throw forbidden(`only the owner of "${namespace}", a team with admin on it, or an administrator may create repositories there`);
    }
    const account = await hub.accounts.get(namespace);
    const isPrivate = body.private ?? account?.defaultPrivate ?? false;
    await hub.repositories.create(name, isPrivate);
    request.log.info({ repository: name, private: isPrivate, by: caller.account.name }, 'repository created');
    return reply.code(201).send({ namespace, name: body.name, private: isPrivate });
  });
}

/** The namespace of the path, when it is an account or organisation. */
async function existing(ctx: ApiContext, request: NamespaceRequest): Promise<string> {
  const namespace = request.params.namespace;
  if (!isValidRepositoryName(`${namespace}/x`) || namespace.includes('/')) throw badRequest('not a valid namespace');
  if (!(await ctx.hub.accounts.get(namespace))) throw notFound(`no account or organisation "${namespace}"`);
  return namespace;
}

/**
 * Its usage (which names private repositories) is seen by the account itself, the owners of the
 * organisation, and administrators; not by members, nor by a token limited to some repositories.
 */
async function mayView(ctx: ApiContext, caller: Caller, namespace: string): Promise<boolean> {
  if (caller.account.admin) return true;
  if (caller.account.name === namespace) return !caller.tokenRepositories;
  return ctx.hub.organizations.mayManage(namespace, caller.account);
}
