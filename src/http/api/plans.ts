import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Plan, PlanUpdate } from '../../hub/plans.js';
import { requireAdmin } from './authenticate.js';
import { parseBody } from './body.js';
import type { ApiContext } from './context.js';
import { notFound } from './problem.js';

const limit = z.number().int().min(0).nullable();

const UpdatePlan = z
  .strictObject({
    title: z.string().optional(),
    price_label: z.string().optional(),
    private_repositories: limit.optional(),
    storage_bytes: limit.optional(),
    pulls_per_window: limit.optional(),
    pull_window_seconds: z.number().int().min(1).optional(),
    seats: limit.optional(),
    features: z.array(z.string()).optional(),
  })
  .refine((v) => Object.values(v).some((value) => value !== undefined), { message: 'nothing to change: send at least one field of the plan' });

/** A plan as the API shows it; null limits are unlimited. The price is a label: nothing is charged. */
export function planJson(plan: Plan) {
  return {
    name: plan.name,
    title: plan.title,
    price_label: plan.priceLabel,
    private_repositories: plan.privateRepositories,
    storage_bytes: plan.storageBytes,
    pulls_per_window: plan.pullsPerWindow,
    pull_window_seconds: plan.pullWindowSeconds,
    seats: plan.seats,
    features: plan.features,
  };
}

/** Plans: anyone may read them (the UI shows them); an administrator edits their labels, limits and features. */
export function registerPlans(api: FastifyInstance, ctx: ApiContext): void {
  const { plans } = ctx.hub;

  api.get('/plans', async () => {
    const results = (await plans.list()).map(planJson);
    return { count: results.length, results };
  });

  api.get<{ Params: { name: string } }>('/plans/:name', async (request) => {
    const plan = await plans.get(request.params.name);
    if (!plan) throw notFound(`no plan "${request.params.name}"`);
    return planJson(plan);
  });

  api.put<{ Params: { name: string } }>('/plans/:name', async (request) => {
    const caller = await requireAdmin(request, ctx);
    const body = parseBody(UpdatePlan, request.body);
    const update: PlanUpdate = {};
    if (body.title !== undefined) update.title = body.title;
    if (body.price_label !== undefined) update.priceLabel = body.price_label;
    if (body.private_repositories !== undefined) update.privateRepositories = body.private_repositories;
    if (body.storage_bytes !== undefined) update.storageBytes = body.storage_bytes;
    if (body.pulls_per_window !== undefined) update.pullsPerWindow = body.pulls_per_window;
    if (body.pull_window_seconds !== undefined) update.pullWindowSeconds = body.pull_window_seconds;
    if (body.seats !== undefined) update.seats = body.seats;
    if (body.features !== undefined) update.features = body.features;
    const plan = await plans.update(request.params.name, update);
    request.log.info({ plan: plan.name, by: caller.account.name, ...body }, 'plan changed');
    return planJson(plan);
  });
}
