import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { HubSettingValues } from '../../hub/settings.js';
import { requireAdmin } from './authenticate.js';
import { parseBody } from './body.js';
import type { ApiContext } from './context.js';

const UpdateSettings = z
  .strictObject({ signup_open: z.boolean().optional(), pull_requires_login: z.boolean().optional() })
  .refine((v) => v.signup_open !== undefined || v.pull_requires_login !== undefined, {
    message: 'nothing to change: send signup_open and/or pull_requires_login',
  });

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
}
