import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseCidr } from '../../hub/pull-limits.js';
import type { HubSettingValues, PullLimitSettings } from '../../hub/settings.js';
import { requireAdmin } from './authenticate.js';
import { parseBody } from './body.js';
import type { ApiContext } from './context.js';

const UpdateSettings = z
  .strictObject({ signup_open: z.boolean().optional(), pull_requires_login: z.boolean().optional() })
  .refine((v) => v.signup_open !== undefined || v.pull_requires_login !== undefined, {
    message: 'nothing to change: send signup_open and/or pull_requires_login',
  });

const UpdatePullLimits = z
  .strictObject({
    anonymous_limit: z.number().int().min(0).nullable().optional(),
    anonymous_window_seconds: z.number().int().min(1).max(366 * 86400).optional(),
    exempt: z
      .array(z.string().max(64).refine((entry) => parseCidr(entry) !== undefined, { message: 'an IP address or a CIDR such as 10.0.0.0/8 or 2001:db8::/32' }))
      .max(1000)
      .optional(),
  })
  .refine((v) => v.anonymous_limit !== undefined || v.anonymous_window_seconds !== undefined || v.exempt !== undefined, {
    message: 'nothing to change: send anonymous_limit, anonymous_window_seconds and/or exempt',
  });

/** anonymous_limit null: unlimited. Accounts are limited by their plan (/api/v1/plans). */
function pullLimitsJson(values: PullLimitSettings) {
  return { anonymous_limit: values.anonymousPullLimit, anonymous_window_seconds: values.anonymousPullWindowSeconds, exempt: values.pullLimitExempt };
}

function settingsJson(values: HubSettingValues) {
  return { signup_open: values.signupOpen, pull_requires_login: values.pullRequiresLogin };
}

/** Settings that change at run time. Anyone may read them (the UI shows "sign up" by them); only an administrator changes them. */
export function registerSettings(api: FastifyInstance, ctx: ApiContext): void {
  const { settings } = ctx.hub;

  api.get('/settings', async () => settingsJson(await settings.all()));

  api.put('/settings', async (request) => {
    const caller = await requireAdmin(request, ctx);
    const body = parseBody(UpdateSettings, request.body);
    if (body.signup_open !== undefined) await settings.set('signupOpen', body.signup_open);
    if (body.pull_requires_login !== undefined) await settings.set('pullRequiresLogin', body.pull_requires_login);
    request.log.info({ by: caller.account.name, ...body }, 'settings changed');
    return settingsJson(await settings.all());
  });

  // Pull rate limits: only administrators see them (the exempt addresses are nobody else's business);
  // clients learn their own allowance from the RateLimit headers of /v2.
  api.get('/settings/pull-limits', async (request) => {
    await requireAdmin(request, ctx);
    return pullLimitsJson(await settings.pullLimits());
  });

  api.put('/settings/pull-limits', async (request) => {
    const caller = await requireAdmin(request, ctx);
    const body = parseBody(UpdatePullLimits, request.body);
    if (body.anonymous_limit !== undefined) await settings.set('anonymousPullLimit', body.anonymous_limit);
    if (body.anonymous_window_seconds !== undefined) await settings.set('anonymousPullWindowSeconds', body.anonymous_window_seconds);
    if (body.exempt !== undefined) await settings.set('pullLimitExempt', body.exempt);
    request.log.info({ by: caller.account.name, ...body }, 'pull limits changed');
    return pullLimitsJson(await settings.pullLimits());
  });
}
