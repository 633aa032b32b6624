import { z } from 'zod';
import { parseCidr } from '../../hub/pull-limits.js';
import type { HubSettingValues, PullLimitSettings } from '../../hub/settings.js';
import type { ApiContext } from './context.js';
import type { ApiRouter } from './route.js';

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
  return { anonymous_limit: values.anonymousPullLimit, anonymous_window_seconds: values.anonymousPullWindowSeconds, exempt: [...values.pullLimitExempt] };
}

function settingsJson(values: HubSettingValues) {
  return { signup_open: values.signupOpen, pull_requires_login: values.pullRequiresLogin };
}

const Settings = z.object({ signup_open: z.boolean(), pull_requires_login: z.boolean() }).meta({ id: 'Settings' });

const PullLimits = z
  .object({
    anonymous_limit: z.number().int().nullable().meta({ description: 'pulls per window per client address; null: unlimited' }),
    anonymous_window_seconds: z.number().int(),
    exempt: z.array(z.string()).meta({ description: 'addresses and CIDRs that are never limited' }),
  })
  .meta({ id: 'PullLimits' });

/** Settings that change at run time. Anyone may read them (the UI shows "sign up" by them); only an administrator changes them. */
export function registerSettings(router: ApiRouter, ctx: ApiContext): void {
  const { settings } = ctx.hub;

  router.route({
    method: 'GET',
    path: '/settings',
    summary: 'The registry’s settings',
    tags: ['settings'],
    auth: 'public',
    responses: { 200: Settings },
    handler: async () => settingsJson(await settings.all()),
  });

  router.route({
    method: 'PUT',
    path: '/settings',
    summary: 'Change the registry’s settings',
    tags: ['settings'],
    auth: 'admin',
    body: UpdateSettings,
    responses: { 200: Settings },
    handler: async ({ request, caller, body }) => {
      if (body.signup_open !== undefined) await settings.set('signupOpen', body.signup_open);
      if (body.pull_requires_login !== undefined) await settings.set('pullRequiresLogin', body.pull_requires_login);
      request.log.info({ by: caller.account.name, ...body }, 'settings changed');
      return settingsJson(await settings.all());
    },
  });

  // Pull rate limits: only administrators see them (the exempt addresses are nobody else's business);
  // clients learn their own allowance from the RateLimit headers of /v2.
  router.route({
    method: 'GET',
    path: '/settings/pull-limits',
    summary: 'The anonymous pull limits',
    description: 'Accounts are limited by their plan (/plans); clients learn their allowance from the RateLimit headers of /v2.',
    tags: ['settings'],
    auth: 'admin',
    responses: { 200: PullLimits },
    handler: async () => pullLimitsJson(await settings.pullLimits()),
  });

  router.route({
    method: 'PUT',
    path: '/settings/pull-limits',
    summary: 'Change the anonymous pull limits',
    tags: ['settings'],
    auth: 'admin',
    body: UpdatePullLimits,
    responses: { 200: PullLimits },
    handler: async ({ request, caller, body }) => {
      if (body.anonymous_limit !== undefined) await settings.set('anonymousPullLimit', body.anonymous_limit);
      if (body.anonymous_window_seconds !== undefined) await settings.set('anonymousPullWindowSeconds', body.anonymous_window_seconds);
      if (body.exempt !== undefined) await settings.set('pullLimitExempt', body.exempt);
      request.log.info({ by: caller.account.name, ...body }, 'pull limits changed');
      return pullLimitsJson(await settings.pullLimits());
    },
  });
}
