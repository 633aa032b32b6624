import { z } from 'zod';
import type { ApiContext } from './context.js';
import type { ApiRouter } from './route.js';
import { OptionalTimestamp } from './schemas.js';

const PullLimit = z
  .object({
    plan: z.string().meta({ description: 'the plan whose allowance applies' }),
    limit: z.number().int().nullable().meta({ description: 'pulls per window; null: unlimited' }),
    window_seconds: z.number().int(),
    remaining: z.number().int().nullable().meta({ description: 'pulls left in the window in force; null when unlimited' }),
    reset_at: OptionalTimestamp.meta({ description: 'when the allowance is whole again; null when nothing was pulled in the window' }),
  })
  .meta({ id: 'PullLimit' });

/** What the caller's account may still pull, as the RateLimit headers of a manifest HEAD would say, without counting a pull. */
export function registerPullLimit(router: ApiRouter, ctx: ApiContext): void {
  router.route({
    method: 'GET',
    path: '/users/me/pull-limit',
    summary: 'The caller’s pull allowance and what is left of it',
    description: 'Pulls are counted per account (an organisation token counts for its organisation); exempt client addresses are never limited, whatever this says.',
    tags: ['users'],
    auth: 'signed-in',
    responses: { 200: PullLimit },
    handler: async ({ caller }) => {
      const account = caller.account.name;
      if (ctx.pullAllowances) {
        const a = await ctx.pullAllowances.allowanceOf(account);
        return { plan: a.plan, limit: a.limit, window_seconds: a.windowSeconds, remaining: a.remaining, reset_at: a.resetAt === null ? null : new Date(a.resetAt).toISOString() };
      }
      // no pull limits run here: the plan's figure, nothing counted
      const plan = await ctx.hub.plans.planOf(account);
      return { plan: plan.name, limit: plan.pullsPerWindow, window_seconds: plan.pullWindowSeconds, remaining: plan.pullsPerWindow, reset_at: null };
    },
  });
}
