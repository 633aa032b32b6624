import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import { registerNamespaces } from './namespaces.js';
import { registerOrganizations } from './orgs.js';
import { registerPlans } from './plans.js';
import { sendProblem, toProblem } from './problem.js';
import { registerRepositories } from './repositories.js';
import { registerSettings } from './settings.js';
import { registerTokens } from './tokens.js';
import { registerUsers } from './users.js';


/** JSON bodies are small: a sign-up, a token label. */
const BODY_LIMIT = 64 * 1024;

/**
 * The hub's REST API under /api/v1: JSON in and out, every error as application/problem+json.
 * Its JSON parser is scoped to these routes: the app parses no bodies itself, so /v2 keeps streaming.
 */
export function registerApi(app: FastifyInstance, ctx: ApiContext): void {
  void app.register(
    async (api) => {
      api.removeAllContentTypeParsers();
      api.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, api.getDefaultJsonParser('error', 'error'));
      api.addHook('onSend', async (_request, reply) => {
        reply.header('cache-control', 'no-store');
      });
      api.setErrorHandler((error, request, reply) => {
        const problem = toProblem(error);
        if (problem.status >= 500) request.log.error({ err: error }, 'api request failed');
        return sendProblem(reply, problem);
      });
      registerUsers(api, ctx);
      registerTokens(api, ctx);
      registerRepositories(api, ctx);
      registerOrganizations(api, ctx);
      registerPlans(api, ctx);
      registerNamespaces(api, ctx);
      registerSettings(api, ctx);
    },
    { prefix: '/api/v1' },
  );
}
