import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { auditRecordOf } from './audit-trail.js';
import { requestOrigin } from '../request-origin.js';
import { authenticate, requireAccountCaller, requireAdmin, requireCaller, type Caller } from './authenticate.js';
import type { ApiContext } from './context.js';
import { ApiProblem, badRequest, sendProblem, toProblem, type FieldError, type ProblemKind } from './problem.js';

/**
 * One /api/v1 route, declared once: what it is (method, path, summary, tags), who may call it, the
 * zod schemas of what it accepts and of each answer it gives. The same declaration validates the
 * request, describes the route in the OpenAPI document, and (in tests) checks every answer against
 * that document. A handler receives the caller and the parsed input, and returns the body of its
 * answer: see `ApiRouter.route`.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call a route; checked first, before the input is validated:
 * - `public`: credentials are not read (bad ones do not matter);
 * - `optional`: anonymous or signed in; credentials that are sent must be good (else 401);
 * - `signed-in`: any caller, personal and organisation access tokens included;
 * - `account`: the account's own password or session: a token cannot manage an account;
 * - `admin`: an administrator, with the password or a session.
 */
export type AuthRequirement = 'public' | 'optional' | 'signed-in' | 'account' | 'admin';

/** Answers by status; `null` for an answer without a body (204). */
export type Responses = { readonly [status: number]: z.ZodType | null };

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
/** An answer's body: what its schema describes; nothing for an answer declared without a body. */
type AnswerBody<S> = S extends z.ZodType ? z.output<S> : void;

export type CallerFor<A extends AuthRequirement> = A extends 'public' ? undefined : A extends 'optional' ? Caller | undefined : Caller;

export interface RouteInput<A extends AuthRequirement, P, Q, B> {
  request: FastifyRequest;
  /** for headers (cookies, Location); the router sends the answer itself */
  reply: FastifyReply;
  caller: CallerFor<A>;
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
}

const ANSWER = Symbol('answer');

/** An answer with another status than the route's first one (`answer(202, {...})`). */
export interface Answer<S extends number = number, T = unknown> {
  readonly [ANSWER]: true;
  readonly status: S;
  readonly body: T;
}

export function answer<S extends number>(status: S): Answer<S, void>;
export function answer<S extends number, T>(status: S, body: T): Answer<S, T>;
export function answer(status: number, body?: unknown): Answer {
  return { [ANSWER]: true, status, body };
}

type StatusOf<R> = keyof R & number;
/** What a handler returns: the body of the route's first (lowest) status, or `answer(status, body)` for another. */
export type RouteResult<R extends Responses> = { [K in StatusOf<R>]: AnswerBody<R[K]> | Answer<K, AnswerBody<R[K]>> }[StatusOf<R>];

type ObjectSchema = z.ZodType<Record<string, unknown>>;

export interface RouteSpec<
  A extends AuthRequirement = AuthRequirement,
  P extends ObjectSchema | undefined = ObjectSchema | undefined,
  Q extends ObjectSchema | undefined = ObjectSchema | undefined,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends Responses = Responses,
> {
  method: HttpMethod;
  /**
   * Relative to /api/v1, in OpenAPI's syntax: `/orgs/{org}/teams/{team}`. A parameter is one path
   * segment (a client encodes `/` inside it as %2F); a last `{name+}` takes the rest of the path.
   */
  path: string;
  summary: string;
  description?: string;
  /** the OpenAPI tags the reference page groups operations by */
  tags: readonly string[];
  auth: A;
  params?: P;
  query?: Q;
  /** a JSON object: the request needs Content-Type application/json */
  body?: B;
  /** the body may be left out (then it is read as `{}`): a confirmation only some callers send */
  optionalBody?: boolean;
  responses: R;
  /**
   * The kinds of problem the handler itself may answer (`not-found`, `conflict`, `plan-limit`,
   * ...). Those that the auth requirement and validation imply are added by the router; in tests,
   * answering a kind that is not declared is an error, so the document lists every one.
   */
  problems?: readonly ProblemKind[];
  /**
   * How a state-changing request is protected from other sites (session-cookie.ts). By default a
   * request the session cookie would authenticate needs X-CSRF-Token; `'origin'` is for the route
   * that never reads the cookie (signing in): only a foreign Origin is refused.
   */
  csrf?: 'origin';
  handler: (input: RouteInput<A, P, Q, B>) => Promise<RouteResult<R>>;
}

/** A declared route, without its type parameters (the router's and the document's view). */
export type ApiRoute = RouteSpec<AuthRequirement, ObjectSchema | undefined, ObjectSchema | undefined, z.ZodType | undefined, Responses>;

/** Checks an answer in tests; says what is wrong, or undefined. */
export interface ResponseCheck {
  answer(route: ApiRoute, status: number, body: unknown): Promise<string | undefined>;
  problem(route: ApiRoute, problem: ApiProblem): string | undefined;
}

/** An answer or a problem that its route does not describe (test mode only): a 500 that says why. */
export class ResponseMismatch extends Error {
  constructor(route: ApiRoute, what: string) {
    super(`${route.method} ${route.path}: ${what}`);
    this.name = 'ResponseMismatch';
  }
}

const ROUTE_CONFIG = 'pierApiRoute';

/**
 * Registers declared routes on the /api/v1 plugin, and keeps them for the OpenAPI document and
 * for the 405 answers of the app.
 */
export class ApiRouter {
  readonly routes: ApiRoute[] = [];
  #check: ResponseCheck | undefined;

  constructor(
    private readonly api: FastifyInstance,
    private readonly ctx: ApiContext,
    /** the prefix the plugin is mounted at: /api/v1 */
    readonly prefix: string,
  ) {}

  /** Turns on the test mode: every answer is checked against the document. */
  checkResponses(check: ResponseCheck): void {
    this.#check = check;
  }

  route<
    A extends AuthRequirement,
    P extends ObjectSchema | undefined = undefined,
    Q extends ObjectSchema | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
    R extends Responses = Responses,
  >(spec: RouteSpec<A, P, Q, B, R>): void {
    const route = spec as unknown as ApiRoute;
    if (!route.path.startsWith('/')) throw new Error(`route path must start with /: ${route.path}`);
    this.routes.push(route);
    const status = successStatus(route);
    this.api.route({
      method: route.method,
      url: fastifyPath(route.path),
      config: { [ROUTE_CONFIG]: route },
      handler: async (request, reply) => {
        // what the audit entry of a state-changing route says (audit-trail.ts), however it ends
        const seen: { caller?: Caller; params?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown } = {};
        let answered: Answer;
        try {
          const caller = await this.#authenticate(route.auth, request);
          seen.caller = caller;
          const params = route.params ? validate(route.params, renameWildcard(route.path, request.params), 'path') : undefined;
          seen.params = params;
          const query = route.query ? validate(route.query, request.query ?? {}, 'query') : undefined;
          seen.query = query as Record<string, unknown> | undefined;
          const absent = request.body === undefined || request.body === null;
          const body = route.body ? validate(route.body, route.optionalBody && absent ? {} : jsonObject(request.body), 'body') : undefined;
          seen.body = body;
          const result: unknown = await route.handler({ request, reply, caller, params, query, body } as never);
          answered = isAnswer(result) ? result : { [ANSWER]: true, status, body: result };
        } catch (error) {
          await this.#audit(route, request, seen, undefined, error);
          throw error;
        }
        await this.#audit(route, request, seen, answered.body);
        if (this.#check) {
          const wrong = await this.#check.answer(route, answered.status, answered.body);
          if (wrong) throw new ResponseMismatch(route, wrong);
        }
        reply.code(answered.status);
        return answered.body === undefined ? reply.send() : reply.send(answered.body);
      },
    });
  }

  /** In tests: a problem its route does not declare (the error handler turns it into a 500 that says so). */
  problemMismatch(request: FastifyRequest, problem: ApiProblem): ResponseMismatch | undefined {
    const route = routeOf(request);
    if (!this.#check || !route) return undefined;
    const wrong = this.#check.problem(route, problem);
    return wrong ? new ResponseMismatch(route, wrong) : undefined;
  }

  /** The methods declared for a path (relative to nothing: the request's full path), for a 405's Allow. */
  methodsAt(path: string): HttpMethod[] {
    if (!path.startsWith(`${this.prefix}/`)) return [];
    const relative = path.slice(this.prefix.length);
    return [...new Set(this.routes.filter((r) => pathPattern(r.path).test(relative)).map((r) => r.method))];
  }

  /** Writes the audit entry of a state-changing request; a failure to write it is logged, never the request's failure. */
  async #audit(route: ApiRoute, request: FastifyRequest, seen: { caller?: Caller; params?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown }, result: unknown, error?: unknown): Promise<void> {
    if (route.method === 'GET') return;
    const rawParams = (seen.params ?? renameWildcard(route.path, request.params)) as Record<string, unknown>;
    const params = Object.fromEntries(Object.entries(rawParams ?? {}).map(([k, v]) => [k, String(v)]));
    const body = (seen.body ?? (request.body && typeof request.body === 'object' ? request.body : {})) as Record<string, unknown>;
    const query = seen.query ?? {};
    const record = auditRecordOf(route.method, route.path, { ...(seen.caller ? { caller: seen.caller } : {}), params, query, body, result }, error);
    if (!record) return;
    try {
      await this.ctx.hub.audit.record({ ...record, ...requestOrigin(request) });
    } catch (failure) {
      request.log.error({ err: failure, action: record.action }, 'could not write the audit entry');
    }
  }

  #authenticate(requirement: AuthRequirement, request: FastifyRequest): Promise<Caller | undefined> {
    switch (requirement) {
      case 'public':
        return Promise.resolve(undefined);
      case 'optional':
        return authenticate(request, this.ctx);
      case 'signed-in':
        return requireCaller(request, this.ctx);
      case 'account':
        return requireAccountCaller(request, this.ctx);
      case 'admin':
        return requireAdmin(request, this.ctx);
    }
  }
}

/**
 * The error handler of the /api/v1 plugin: every error becomes a problem once. In test mode, an
 * answer or a problem its route does not describe becomes a 500 whose detail says why.
 */
export function apiErrorHandler(router: ApiRouter) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    let problem = toProblem(error);
    const mismatch = error instanceof ResponseMismatch ? error : router.problemMismatch(request, problem);
    if (mismatch) {
      request.log.error({ err: mismatch }, 'the answer does not match the OpenAPI document');
      problem = new ApiProblem('internal', mismatch.message);
    } else if (problem.status >= 500) {
      request.log.error({ err: error }, 'api request failed');
    }
    return sendProblem(reply, problem);
  };
}

/** The declared route that answered this request, if it is one. */
export function routeOf(request: FastifyRequest): ApiRoute | undefined {
  return (request.routeOptions.config as unknown as Record<string, unknown> | undefined)?.[ROUTE_CONFIG] as ApiRoute | undefined;
}

/** The status a plain return value is sent with: the lowest declared. */
export function successStatus(route: ApiRoute): number {
  const statuses = Object.keys(route.responses).map(Number);
  if (statuses.length === 0) throw new Error(`${route.method} ${route.path} declares no response`);
  return Math.min(...statuses);
}

function isAnswer(value: unknown): value is Answer {
  return typeof value === 'object' && value !== null && ANSWER in value;
}

/** `/orgs/{org}` -> `/orgs/:org`; a last `{name+}` -> `*`. */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\+\}$/, '*').replace(/\{(\w+)\}/g, ':$1');
}

/** `{name+}` -> `{name}`: OpenAPI has no rest-of-path parameter; its description says so. */
export function openApiPath(path: string): string {
  return path.replace(/\{(\w+)\+\}$/, '{$1}');
}

/** The parameter a last `{name+}` declares, if any. */
export function restParameter(path: string): string | undefined {
  return /\{(\w+)\+\}$/.exec(path)?.[1];
}

function pathPattern(path: string): RegExp {
  const source = path
    .split(/(\{\w+\+?\})/)
    .map((part) => (/^\{\w+\+\}$/.test(part) ? '.+' : /^\{\w+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

function renameWildcard(path: string, params: unknown): unknown {
  const rest = restParameter(path);
  if (!rest) return params;
  const { '*': value, ...others } = params as Record<string, unknown>;
  return { ...others, [rest]: value };
}

function jsonObject(body: unknown): unknown {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object (Content-Type: application/json)');
  }
  return body;
}

/**
 * Parses one part of the request; a 400 `validation` problem lists every field that is wrong and
 * names the first in `detail` (`password: ...`, `unknown field: admin`).
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: 'path' | 'query' | 'body'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldError[] = [];
  for (const issue of result.error.issues) {
    const prefix = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push({ field: prefix ? `${prefix}.${key}` : key, message: 'unknown field' });
    } else {
      errors.push({ field: prefix, message: issue.message });
    }
  }
  const first = result.error.issues[0]!;
  let detail: string;
  if (first.code === 'unrecognized_keys') detail = `unknown ${where === 'body' ? 'field' : `${where} parameter`}${first.keys.length > 1 ? 's' : ''}: ${first.keys.join(', ')}`;
  else detail = errors[0]!.field ? `${errors[0]!.field}: ${first.message}` : first.message;
  throw badRequest(detail, errors);
}
