import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { registerAdminUsers } from './admin-users.js';
import { registerAudit } from './audit.js';
import type { ApiContext } from './context.js';
import { registerNamespaces } from './namespaces.js';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { registerOrganizationMembers } from './org-members.js';
import { registerOrganizationTokens } from './org-tokens.js';
import { registerOrganizations } from './orgs.js';
import { registerPlans } from './plans.js';
import { registerCategories } from './categories.js';
import { registerGc } from './gc.js';
import { registerImmutableTags } from './immutable-tags.js';
import { registerManifests } from './manifests.js';
import { registerProxies } from './proxies.js';
import { registerPullLimit } from './pull-limit.js';
import { registerReplication } from './replication.js';
import { registerRetention } from './retention.js';
import { registerRepositories } from './repositories.js';
import { registerSearchRoutes } from './search.js';
import { registerStars } from './stars.js';
import { registerTags } from './tags.js';
import { documentCheck } from './response-check.js';
import { apiErrorHandler, ApiRouter, routeOf, type HttpMethod } from './route.js';
import { changesState, checkCsrf, checkOrigin, clearSessionCookies, sessionCookie, sessionEnded } from './session-cookie.js';
import { registerSessions } from './sessions.js';
import { registerSettings } from './settings.js';
import { registerTeams } from './teams.js';
import { registerTokens } from './tokens.js';
import { registerUsers } from './users.js';
import { registerWebhooks } from './webhooks.js';

export const API_PREFIX = '/api/v1';

/** JSON bodies are small: a sign-up, a token label. */
const BODY_LIMIT = 64 * 1024;

export interface ApiRegistration {
  /** the methods declared at a path under /api/v1 (empty when nothing is): the app's 405 uses them */
  methodsAt(path: string): HttpMethod[];
}

export interface RegisterApiOptions {
  /** test mode: every answer is checked against the OpenAPI document; a mismatch is a 500 that says why */
  checkResponses?: boolean;
}

/**
 * The hub's REST API under /api/v1: JSON in and out, every error as application/problem+json.
 * Every route is declared through the ApiRouter (route.ts), which also writes the OpenAPI
 * document. Its JSON parser is scoped to these routes: the app parses no bodies itself, so /v2
 * keeps streaming.
 */
export function registerApi(app: FastifyInstance, ctx: ApiContext, options: RegisterApiOptions = {}): ApiRegistration {
  let router: ApiRouter | undefined;
  let document: OpenApiDocument | undefined;
  const documentOf = () => (document ??= buildOpenApiDocument(router?.routes ?? [], { prefix: API_PREFIX, version: VERSION }));
  void app.register(
    async (api) => {
      api.removeAllContentTypeParsers();
      api.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, api.getDefaultJsonParser('error', 'error'));
      // Cross-site requests are refused before their body is read (session-cookie.ts has the rule).
      api.addHook('onRequest', async (request) => {
        const route = routeOf(request);
        if (!route || !changesState(request)) return;
        if (route.csrf === 'origin') return checkOrigin(request, ctx);
        const secret = sessionCookie(request);
        if (secret !== undefined) checkCsrf(request, ctx, secret);
      });
      api.addHook('onSend', async (request, reply) => {
        reply.header('cache-control', 'no-store');
        // a cookie whose session has ended is forgotten, so the browser stops sending it
        if (sessionEnded(request)) clearSessionCookies(request, reply, ctx);
      });
      const routes = new ApiRouter(api, ctx, API_PREFIX);
      router = routes;
      if (options.checkResponses) routes.checkResponses(documentCheck(documentOf));
      api.setErrorHandler(apiErrorHandler(routes));
      registerUsers(routes, ctx);
      registerPullLimit(routes, ctx);
      registerSessions(routes, ctx);
      registerAdminUsers(routes, ctx);
      registerTokens(routes, ctx);
      registerRepositories(routes, ctx);
      registerTags(routes, ctx);
      registerManifests(routes, ctx);
      registerImmutableTags(routes, ctx);
      registerRetention(routes, ctx);
      registerStars(routes, ctx);
      registerCategories(routes, ctx);
      registerSearchRoutes(routes, ctx);
      registerOrganizations(routes, ctx);
      registerOrganizationMembers(routes, ctx);
      registerTeams(routes, ctx);
      registerOrganizationTokens(routes, ctx);
      registerPlans(routes, ctx);
      registerNamespaces(routes, ctx);
      registerSettings(routes, ctx);
      registerProxies(routes, ctx);
      registerReplication(routes, ctx);
      registerWebhooks(routes, ctx);
      registerAudit(routes, ctx);
      registerGc(routes, ctx);

      routes.route({
        method: 'GET',
        path: '/openapi.json',
        summary: 'This document: the OpenAPI 3.1 description of /api/v1',
        tags: ['meta'],
        auth: 'public',
        responses: { 200: z.looseObject({ openapi: z.literal('3.1.0'), info: z.looseObject({ version: z.string() }), paths: z.record(z.string(), z.unknown()) }) },
        handler: async () => documentOf(),
      });
    },
    { prefix: API_PREFIX },
  );
  return {
    methodsAt: (path) => router?.methodsAt(path) ?? [],
  };
}

/** The package's version, for the document's `info.version` (src/ and dist/ sit at the same depth). */
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
