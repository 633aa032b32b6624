import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Subject } from '../auth/access-policy.js';
import type { RepositorySummary } from '../hub/repository-pages.js';
import { secretKind } from '../auth/secret-token.js';
import { authenticate, subjectOf } from './api/authenticate.js';
import type { ApiContext } from './api/context.js';
import { badRequest, sendProblem, toProblem } from './api/problem.js';
import { REPOSITORIES_CLAIM } from './token.js';


/**
 * The registry v1 search API that `docker search HOST/TERM` calls: `GET /v1/search?q=&n=&page=`,
 * answered by the hub's search (the same engine, ranking and visibility as /api/v1/search).
 * The caller is anonymous, or sends Basic credentials (password or personal access token), an API
 * session, a personal access token as a Bearer token, or a registry access token from /token
 * (what the docker daemon sends when it holds an identity token). Errors are problem+json.
 * `/v1/_ping` answers too: the daemon pings it before searching (it ignores the status, but a
 * JSON body spares it a parse failure).
 */
export function registerSearch(app: FastifyInstance, ctx: ApiContext): void {

  app.get('/v1/_ping', async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send({ standalone: true });
  });

  app.get('/v1/search', async (request, reply) => {
    try {
      const params = request.query as Record<string, string | string[] | undefined>;
      const query = single(params.q) ?? '';
      if (query.trim() === '') throw badRequest('q (the search term) is required');
      const pageSize = integer(single(params.n), 'n');
      const page = integer(single(params.page), 'page');
      const subject = await searcher(request, ctx);
      // docker search asks for up to 100 (--limit); more is capped, as Docker Hub does
      const size = Math.min(pageSize ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
      const current = page ?? 1;
      const found = await ctx.hub.search.search(subject, { query, page: current, pageSize: size });
      const result: V1SearchPage = {
        query,
        num_results: found.count,
        num_pages: Math.ceil(found.count / size),
        page: current,
        page_size: size,
        results: found.results.map(v1Result),
      };
      return reply.header('cache-control', 'no-store').send(result);
    } catch (error) {
      const problem = toProblem(error);
      if (problem.status >= 500) request.log.error({ err: error }, 'search failed');
      return sendProblem(reply, problem);
    }
  });
}

const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

/** One hit, in the shape `docker search` reads (registry v1 search API), plus Pier's verified badge. */
interface V1SearchResult {
  /** `namespace/repo`; an official image (`library/x`) shows as `x`, as on Docker Hub */
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  /** automated builds do not exist: always false */
  is_automated: boolean;
  is_verified_publisher: boolean;
}

interface V1SearchPage {
  query: string;
  num_results: number;
  num_pages: number;
  page: number;
  page_size: number;
  results: V1SearchResult[];
}

function v1Result(repository: RepositorySummary): V1SearchResult {
  return {
    name: repository.isOfficial ? repository.name : repository.fullName,
    description: repository.description,
    star_count: repository.starCount,
    is_official: repository.isOfficial,
    is_automated: false,
    is_verified_publisher: repository.isVerifiedPublisher,
  };
}

/** Who searches: a registry access token names its account in `sub`; anything else as /api reads it. */
async function searcher(request: FastifyRequest, ctx: ApiContext): Promise<Subject> {
  const header = request.headers.authorization ?? '';
  const auth = ctx.auth;
  if (auth && /^bearer /i.test(header)) {
    const token = header.slice(7).trim();
    if (token !== '' && secretKind(token) !== 'pat') {
      const payload = await auth.keyRing.verify(token, { issuer: auth.issuer, audience: auth.service }).catch(() => undefined);
      if (payload) {
        const sub = typeof payload.sub === 'string' ? payload.sub : '';
        const account = sub === '' ? undefined : await ctx.hub.accounts.get(sub);
        // an anonymous token, or one whose account is gone, finds what anyone finds
        if (!account) return { kind: 'anonymous' };
        const limited = (payload as Record<string, unknown>)[REPOSITORIES_CLAIM];
        const repositories = Array.isArray(limited) ? limited.filter((r): r is string => typeof r === 'string') : undefined;
        return { kind: 'account', name: account.name, admin: account.admin, ...(repositories ? { tokenRepositories: repositories } : {}) };
      }
    }
  }
  return subjectOf(await authenticate(request, ctx));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function integer(value: string | undefined, what: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw badRequest(`${what} must be a positive integer`);
  return Number(value);
}
