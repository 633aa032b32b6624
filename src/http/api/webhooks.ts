import { z } from 'zod';
import type { Attempt, Delivery } from '../../hub/webhooks/deliveries.js';
import { WEBHOOK_EVENTS, type HookScope, type Webhook } from '../../hub/webhooks/hooks.js';
import type { WebhookService } from '../../hub/webhooks/webhooks.js';
import { namespaceOf } from '../../oci/names.js';
import type { Caller } from './authenticate.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { managed, OrgPath } from './org-access.js';
import { pageOf, paged, PageQuery, pageWindow } from './paging.js';
import { badRequest, notFound } from './problem.js';
import { administered } from './repositories.js';
import { RepositoryPath } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';
import { OptionalTimestamp, Timestamp } from './schemas.js';

const EventName = z.enum(WEBHOOK_EVENTS).meta({
  description: 'push (Docker Hub’s push payload), tag.deleted, manifest.deleted, repository.created, repository.deleted, repository.visibility (CloudEvents-style envelope)',
});

const HOOK_FIELDS = {
  id: z.string(),
  name: z.string(),
  url: z.string(),
  events: z.array(EventName),
  active: z.boolean(),
  disabled_reason: z.string().nullable().meta({ description: 'why Pier turned it off (it kept failing, its target is refused); cleared when it is turned on again' }),
  scope: z.object({ kind: z.enum(['repository', 'organization']), name: z.string() }),
  created_by: z.string().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
};
const WebhookSchema = z.object(HOOK_FIELDS).meta({ id: 'Webhook' });
const CreatedWebhook = z
  .object({ ...HOOK_FIELDS, secret: z.string().meta({ description: 'signs every delivery (X-Pier-Signature); shown this once' }) })
  .meta({ id: 'CreatedWebhook' });

const AttemptSchema = z.object({
  attempt: z.number().int(),
  at: Timestamp,
  status_code: z.number().int().nullable().meta({ description: 'null: no answer (refused, timeout, connection error)' }),
  latency_ms: z.number().int(),
  error: z.string().nullable(),
  response_excerpt: z.string().nullable().meta({ description: 'the first KiB of the answer' }),
});
const DeliverySchema = z
  .object({
    id: z.string().meta({ description: 'X-Pier-Delivery' }),
    event: z.string(),
    repository: z.string(),
    status: z.enum(['pending', 'delivering', 'succeeded', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: OptionalTimestamp,
    created_at: Timestamp,
    finished_at: OptionalTimestamp,
    error: z.string().nullable(),
    attempt_list: z.array(AttemptSchema),
  })
  .meta({ id: 'WebhookDelivery' });
const WebhookDetail = z.object({ ...HOOK_FIELDS, deliveries: z.array(DeliverySchema).meta({ description: 'the latest 20, newest first' }) }).meta({ id: 'WebhookDetail' });

const CreateWebhook = z.strictObject({
  name: z.string().min(1).max(100),
  url: z.string().min(1).max(2000),
  events: z.array(EventName).min(1),
  active: z.boolean().optional(),
});
const UpdateWebhook = z
  .strictObject({ name: z.string().min(1).max(100).optional(), url: z.string().min(1).max(2000).optional(), events: z.array(EventName).min(1).optional(), active: z.boolean().optional() })
  .refine((v) => Object.values(v).some((value) => value !== undefined), { message: 'nothing to change' });

const HookId = z.object({ id: z.string() });
const WebhookSecret = z.object({ secret: z.string().meta({ description: 'shown this once' }) }).meta({ id: 'WebhookSecret' });

interface ScopeRoutes<P extends z.ZodObject> {
  base: string;
  params: P;
  tag: string;
  who: string;
  /** the hook scope of the path, when the caller may manage its hooks (else forbidden or not found) */
  scope(caller: Caller, params: z.output<P>): Promise<{ scope: HookScope; namespace: string }>;
}

/**
 * Webhooks of a repository (admin permission on it) and of an organisation (its owners): created
 * with a name, a URL and events, answered with a secret shown once; listed, read with their
 * latest deliveries and attempts, changed, deleted, their secret rotated, a delivery sent again.
 */
export function registerWebhooks(router: ApiRouter, ctx: ApiContext): void {
  const service = ctx.webhooks;
  if (!service) return;
  registerScope(router, ctx, service, {
    base: '/repositories/{namespace}/{name}/webhooks',
    params: RepositoryPath,
    tag: 'webhooks',
    who: 'Admin permission on the repository (a token needs repo:admin).',
    scope: async (caller, params) => {
      const name = await administered(ctx, caller, params);
      return { scope: { kind: 'repository', name }, namespace: namespaceOf(name) };
    },
  });
  registerScope(router, ctx, service, {
    base: '/orgs/{org}/webhooks',
    params: OrgPath,
    tag: 'webhooks',
    who: 'Owners of the organisation; its hooks hear the events of all its repositories.',
    scope: async (caller, params) => {
      const org = await managed(ctx, caller, params.org);
      return { scope: { kind: 'organization', name: org.name }, namespace: org.name };
    },
  });
}

function registerScope<P extends z.ZodObject>(router: ApiRouter, ctx: ApiContext, service: WebhookService, spec: ScopeRoutes<P>): void {
  const tags = [spec.tag];
  const withId = spec.params.extend(HookId.shape);
  const hookOf = async (caller: Caller, params: z.output<P> & { id: string }) => {
    const { scope, namespace } = await spec.scope(caller, params);
    const hook = await service.hooks.get(scope, params.id);
    if (!hook) throw notFound(`no webhook ${params.id}`);
    return { hook, scope, namespace };
  };

  router.route({
    method: 'GET',
    path: spec.base,
    summary: 'Webhooks',
    description: spec.who,
    tags,
    auth: 'signed-in',
    params: spec.params,
    query: PageQuery,
    responses: { 200: paged(WebhookSchema) },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params, query, request }) => {
      const { scope } = await spec.scope(caller, params as z.output<P>);
      const { count, hooks } = await service.hooks.page(scope, pageWindow(query));
      return pageOf(request, query, count, hooks.map(hookJson));
    },
  });

  router.route({
    method: 'POST',
    path: spec.base,
    summary: 'Add a webhook',
    description: `${spec.who} A plan feature (webhooks). The answer carries the signing secret, shown this once.`,
    tags,
    auth: 'signed-in',
    params: spec.params,
    body: CreateWebhook,
    responses: { 201: CreatedWebhook },
    problems: ['not-found', 'forbidden', 'plan-limit'],
    handler: async ({ caller, params, body, request }) => {
      const { scope, namespace } = await spec.scope(caller, params as z.output<P>);
      await ctx.hub.plans.requireFeature(namespace, 'webhooks', 'a webhook');
      refuseLiteral(service, body.url);
      const { hook, secret } = await service.hooks.create(scope, body, caller.account.name);
      request.log.info({ webhook: hook.id, scope, by: caller.account.name }, 'webhook added');
      return { ...hookJson(hook), secret };
    },
  });

  router.route({
    method: 'GET',
    path: `${spec.base}/{id}`,
    summary: 'A webhook with its latest deliveries and their attempts',
    description: spec.who,
    tags,
    auth: 'signed-in',
    params: withId,
    responses: { 200: WebhookDetail },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params }) => {
      const { hook } = await hookOf(caller, params as z.output<P> & { id: string });
      const deliveries = await service.deliveries.recent(hook.id, 20);
      return { ...hookJson(hook), deliveries: deliveries.map(deliveryJson) };
    },
  });

  router.route({
    method: 'PATCH',
    path: `${spec.base}/{id}`,
    summary: 'Change a webhook (turning it on again clears why it was disabled)',
    description: spec.who,
    tags,
    auth: 'signed-in',
    params: withId,
    body: UpdateWebhook,
    responses: { 200: WebhookSchema },
    problems: ['not-found', 'forbidden', 'plan-limit'],
    handler: async ({ caller, params, body, request }) => {
      const { hook, scope, namespace } = await hookOf(caller, params as z.output<P> & { id: string });
      if (body.active === true) await ctx.hub.plans.requireFeature(namespace, 'webhooks', 'a webhook');
      if (body.url !== undefined) refuseLiteral(service, body.url);
      const changed = await service.hooks.update(scope, hook.id, body);
      request.log.info({ webhook: hook.id, scope, by: caller.account.name, fields: Object.keys(body) }, 'webhook changed');
      return hookJson(changed);
    },
  });

  router.route({
    method: 'DELETE',
    path: `${spec.base}/{id}`,
    summary: 'Delete a webhook with its queued deliveries',
    description: spec.who,
    tags,
    auth: 'signed-in',
    params: withId,
    responses: { 204: null },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params, request }) => {
      const { hook, scope } = await hookOf(caller, params as z.output<P> & { id: string });
      await service.hooks.delete(scope, hook.id);
      request.log.info({ webhook: hook.id, scope, by: caller.account.name }, 'webhook deleted');
      return answer(204);
    },
  });

  router.route({
    method: 'POST',
    path: `${spec.base}/{id}/secret`,
    summary: 'Rotate a webhook’s signing secret',
    description: `${spec.who} The new secret is shown this once and signs every delivery from now on.`,
    tags,
    auth: 'signed-in',
    params: withId,
    responses: { 200: WebhookSecret },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params, request }) => {
      const { hook, scope } = await hookOf(caller, params as z.output<P> & { id: string });
      const secret = await service.hooks.rotateSecret(scope, hook.id);
      request.log.info({ webhook: hook.id, scope, by: caller.account.name }, 'webhook secret rotated');
      return { secret };
    },
  });

  router.route({
    method: 'POST',
    path: `${spec.base}/{id}/deliveries/{delivery}/redeliver`,
    summary: 'Send a delivery again',
    description: `${spec.who} The same body, as a new delivery (its own X-Pier-Delivery), after what the hook has queued.`,
    tags,
    auth: 'signed-in',
    params: withId.extend({ delivery: z.string() }),
    responses: { 202: z.object({ id: z.string().meta({ description: 'the new delivery' }) }) },
    problems: ['not-found', 'forbidden', 'plan-limit'],
    handler: async ({ caller, params }) => {
      const p = params as z.output<P> & { id: string; delivery: string };
      const { hook, namespace } = await hookOf(caller, p);
      await ctx.hub.plans.requireFeature(namespace, 'webhooks', 'a webhook');
      const id = await service.redeliver(hook, p.delivery);
      if (!id) throw notFound(`no delivery ${p.delivery} of this webhook`);
      return answer(202, { id });
    },
  });
}

/** A URL whose host is a refused address, written as one, is refused at once (names are checked at each delivery). */
function refuseLiteral(service: WebhookService, url: string): void {
  const why = service.literalRefusal(url);
  if (why) throw badRequest(`url: ${why}`, [{ field: 'url', message: why }]);
}

function hookJson(hook: Webhook): z.output<typeof WebhookSchema> {
  return {
    id: hook.id,
    name: hook.name,
    url: hook.url,
    events: hook.events,
    active: hook.active,
    disabled_reason: hook.disabledReason,
    scope: hook.scope,
    created_by: hook.createdBy,
    created_at: iso(hook.createdAt)!,
    updated_at: iso(hook.updatedAt)!,
  };
}

function deliveryJson(delivery: Delivery & { attemptList: Attempt[] }): z.output<typeof DeliverySchema> {
  return {
    id: delivery.id,
    event: delivery.event,
    repository: delivery.ordering,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
    created_at: iso(delivery.createdAt)!,
    finished_at: iso(delivery.finishedAt),
    error: delivery.error,
    attempt_list: delivery.attemptList.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at)!,
      status_code: a.statusCode,
      latency_ms: a.latencyMs,
      error: a.error,
      response_excerpt: a.responseExcerpt,
    })),
  };
}
