import { z } from 'zod';
import type { Plan, PlanUpdate } from '../../hub/plans.js';
import type { ApiContext } from './context.js';
import { notFound } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf } from './schemas.js';

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

const PlanPath = z.object({ name: z.string() });

const nullableLimit = (description: string) => z.number().int().nullable().meta({ description: `${description}; null: unlimited` });

export const PlanSchema = z
  .object({
    name: z.string(),
    title: z.string(),
    price_label: z.string().meta({ description: 'a label: nothing is charged' }),
    private_repositories: nullableLimit('private repositories per namespace'),
    storage_bytes: nullableLimit('bytes stored per namespace'),
    pulls_per_window: nullableLimit('pulls per window per account'),
    pull_window_seconds: z.number().int(),
    seats: nullableLimit('members per organisation'),
    features: z.array(z.string()),
  })
  .meta({ id: 'Plan' });

/** A plan as the API shows it; null limits are unlimited. The price is a label: nothing is charged. */
export function planJson(plan: Plan): z.output<typeof PlanSchema> {
  return {
    name: plan.name,
    title: plan.title,
    price_label: plan.priceLabel,
    private_repositories: plan.privateRepositories,
    storage_bytes: plan.storageBytes,
    pulls_per_window: plan.pullsPerWindow,
    pull_window_seconds: plan.pullWindowSeconds,
    seats: plan.seats,
    features: [...plan.features],
  };
}

/** Plans: anyone may read them (the UI shows them); an administrator edits their labels, limits and features. */
export function registerPlans(router: ApiRouter, ctx: ApiContext): void {
  const { plans } = ctx.hub;

  router.route({
    method: 'GET',
    path: '/plans',
    summary: 'List the plans',
    tags: ['plans'],
    auth: 'public',
    responses: { 200: listOf(PlanSchema) },
    handler: async () => {
      const results = (await plans.list()).map(planJson);
      return { count: results.length, results };
    },
  });

  router.route({
    method: 'GET',
    path: '/plans/{name}',
    summary: 'A plan',
    tags: ['plans'],
    auth: 'public',
    params: PlanPath,
    responses: { 200: PlanSchema },
    problems: ['not-found'],
    handler: async ({ params }) => {
      const plan = await plans.get(params.name);
      if (!plan) throw notFound(`no plan "${params.name}"`);
      return planJson(plan);
    },
  });

  router.route({
    method: 'PUT',
    path: '/plans/{name}',
    summary: 'Change a plan’s labels, limits or features',
    tags: ['plans'],
    auth: 'admin',
    params: PlanPath,
    body: UpdatePlan,
    responses: { 200: PlanSchema },
    problems: ['not-found'],
    handler: async ({ request, caller, params, body }) => {
      const update: PlanUpdate = {};
      if (body.title !== undefined) update.title = body.title;
      if (body.price_label !== undefined) update.priceLabel = body.price_label;
      if (body.private_repositories !== undefined) update.privateRepositories = body.private_repositories;
      if (body.storage_bytes !== undefined) update.storageBytes = body.storage_bytes;
      if (body.pulls_per_window !== undefined) update.pullsPerWindow = body.pulls_per_window;
      if (body.pull_window_seconds !== undefined) update.pullWindowSeconds = body.pull_window_seconds;
      if (body.seats !== undefined) update.seats = body.seats;
      if (body.features !== undefined) update.features = body.features;
      const plan = await plans.update(params.name, update);
      request.log.info({ plan: plan.name, by: caller.account.name, ...body }, 'plan changed');
      return planJson(plan);
    },
  });
}
