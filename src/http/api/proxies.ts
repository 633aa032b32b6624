import { z } from 'zod';
import { PROXY_VISIBILITIES, type Proxy, type ProxySettings } from '../../hub/proxies.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { badRequest, notFound } from './problem.js';
import { answer, type ApiRouter } from './route.js';
import { listOf, Timestamp } from './schemas.js';

const Visibility = z.enum(PROXY_VISIBILITIES).meta({ description: 'public: anyone may pull through it; members: signed-in accounts only' });
const TtlSeconds = z.number().int().min(1).max(365 * 86_400).meta({ description: 'a cached tag is checked against the upstream again after this many seconds (600 by default)' });

const ProxySchema = z
  .object({
    namespace: z.string(),
    url: z.string().meta({ description: 'the upstream registry' }),
    username: z.string().nullable(),
    has_password: z.boolean().meta({ description: 'the password is stored sealed and never shown' }),
    ttl_seconds: z.number().int(),
    visibility: Visibility,
    cached_repositories: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'Proxy' });

const Credentials = {
  username: z.string().min(1).max(255).nullish().meta({ description: 'with password; null (PATCH) removes the credentials' }),
  password: z.string().min(1).max(4096).optional(),
};

const CreateProxy = z.strictObject({
  namespace: z.string().meta({ description: 'one name component, e.g. hub: hub/library/nginx reads library/nginx upstream' }),
  url: z.string().meta({ description: 'the upstream registry, e.g. https://registry-1.docker.io' }),
  ...Credentials,
  ttl_seconds: TtlSeconds.optional(),
  visibility: Visibility.optional(),
});

const UpdateProxy = z
  .strictObject({ url: z.string().optional(), ...Credentials, ttl_seconds: TtlSeconds.optional(), visibility: Visibility.optional() })
  .refine((v) => Object.values(v).some((value) => value !== undefined), { message: 'nothing to change' });

const ProxyPath = z.object({ namespace: z.string() });

/** Proxy namespaces (pull-through caches of other registries): for administrators. */
export function registerProxies(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;
  const json = async (proxy: Proxy) => ({
    namespace: proxy.namespace,
    url: proxy.url,
    username: proxy.username,
    has_password: proxy.hasPassword,
    ttl_seconds: Math.round(proxy.ttlMs / 1000),
    visibility: proxy.visibility,
    cached_repositories: await hub.proxies.cachedRepositories(proxy.namespace),
    created_at: iso(proxy.createdAt)!,
    updated_at: iso(proxy.updatedAt)!,
  });

  router.route({
    method: 'GET',
    path: '/proxies',
    summary: 'List the proxy namespaces',
    tags: ['proxies'],
    auth: 'admin',
    responses: { 200: listOf(ProxySchema) },
    handler: async () => {
      const results = await Promise.all((await hub.proxies.list()).map(json));
      return { count: results.length, results };
    },
  });

  router.route({
    method: 'POST',
    path: '/proxies',
    summary: 'Make a namespace a pull-through cache of another registry',
    description: 'Repositories under the namespace are fetched from the upstream on a miss and served from storage afterwards; nobody pushes there.',
    tags: ['proxies'],
    auth: 'admin',
    body: CreateProxy,
    responses: { 201: ProxySchema },
    problems: ['conflict'],
    handler: async ({ request, caller, body }) => {
      const proxy = await hub.proxies.add(body.namespace, { url: body.url, ...settingsOf(body) });
      request.log.info({ proxy: proxy.namespace, url: proxy.url, by: caller.account.name }, 'proxy namespace added');
      return json(proxy);
    },
  });

  router.route({
    method: 'GET',
    path: '/proxies/{namespace}',
    summary: 'A proxy namespace',
    tags: ['proxies'],
    auth: 'admin',
    params: ProxyPath,
    responses: { 200: ProxySchema },
    problems: ['not-found'],
    handler: async ({ params }) => {
      const proxy = await hub.proxies.get(params.namespace);
      if (!proxy) throw notFound(`no proxy namespace "${params.namespace}"`);
      return json(proxy);
    },
  });

  router.route({
    method: 'PATCH',
    path: '/proxies/{namespace}',
    summary: 'Change a proxy’s upstream, credentials, TTL or visibility',
    tags: ['proxies'],
    auth: 'admin',
    params: ProxyPath,
    body: UpdateProxy,
    responses: { 200: ProxySchema },
    problems: ['not-found'],
    handler: async ({ request, caller, params, body }) => {
      const proxy = await hub.proxies.update(params.namespace, settingsOf(body));
      request.log.info({ proxy: proxy.namespace, by: caller.account.name }, 'proxy namespace changed');
      return json(proxy);
    },
  });

  router.route({
    method: 'DELETE',
    path: '/proxies/{namespace}',
    summary: 'Remove a proxy namespace and what it cached',
    tags: ['proxies'],
    auth: 'admin',
    params: ProxyPath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ request, caller, params }) => {
      const repositories = await hub.proxies.remove(params.namespace, ctx.registry);
      request.log.info({ proxy: params.namespace, repositories: repositories.length, by: caller.account.name }, 'proxy namespace removed');
      return answer(204);
    },
  });
}

function settingsOf(body: { url?: string; username?: string | null; password?: string; ttl_seconds?: number; visibility?: Proxy['visibility'] }): ProxySettings {
  const settings: ProxySettings = {};
  if (body.url !== undefined) settings.url = body.url;
  if (body.ttl_seconds !== undefined) settings.ttlMs = body.ttl_seconds * 1000;
  if (body.visibility !== undefined) settings.visibility = body.visibility;
  if (body.username === null) {
    if (body.password !== undefined) throw badRequest('password: not with username null (which removes the credentials)', [{ field: 'password', message: 'not with username null' }]);
    settings.credentials = null;
  } else if (body.username !== undefined || body.password !== undefined) {
    if (body.username === undefined || body.password === undefined) {
      const field = body.username === undefined ? 'username' : 'password';
      throw badRequest(`${field}: the upstream credentials are a username and a password, both`, [{ field, message: 'give both username and password' }]);
    }
    settings.credentials = { username: body.username, password: body.password };
  }
  return settings;
}
