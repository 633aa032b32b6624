import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { HubError, type HubErrorKind } from '../../hub/errors.js';
import { noteRefusal } from '../refusals.js';

/**
 * RFC 9457 problems: every error of /api (and of the app outside /v2, /token and /v1/search's
 * success format) leaves as `application/problem+json` `{type, title, status, detail}`, with
 * `errors: [{field, message}]` on a validation error. `type` is stable per kind of error, so a
 * client branches on it, never on the wording of `detail`.
 */
export const PROBLEM_TYPE_BASE = 'https://pier.dev/problems/';

const KINDS = {
  validation: { status: 400, title: 'The request is not valid' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  'plan-limit': { status: 403, title: 'Over the limit of the plan' },
  csrf: { status: 403, title: 'Cross-site request refused' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'request-timeout': { status: 408, title: 'Request timeout' },
  conflict: { status: 409, title: 'Conflict' },
  'too-large': { status: 413, title: 'Request body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  'not-implemented': { status: 501, title: 'Not implemented' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof KINDS;
export const PROBLEM_KINDS = Object.keys(KINDS) as ProblemKind[];

export interface FieldError {
  /** the field's path: `password`, `scopes.0`, or the query/path parameter's name */
  field: string;
  message: string;
}

export const FieldErrorSchema = z.object({ field: z.string(), message: z.string() });

/** What every error body is; the OpenAPI document names it `Problem`. */
export const ProblemSchema = z
  .object({
    type: z.string().meta({ description: `${PROBLEM_TYPE_BASE}<kind>, one of: ${PROBLEM_KINDS.join(', ')}` }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(FieldErrorSchema).optional().meta({ description: 'on a validation error: each field that is wrong' }),
  })
  .meta({ id: 'Problem' });

export type ProblemBody = z.output<typeof ProblemSchema>;

export class ApiProblem extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly errors?: readonly FieldError[];

  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    options: { headers?: Record<string, string>; errors?: readonly FieldError[] } = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
    this.status = KINDS[kind].status;
    this.headers = options.headers ?? {};
    if (options.errors) this.errors = options.errors;
  }

  body(): ProblemBody {
    return {
      type: `${PROBLEM_TYPE_BASE}${this.kind}`,
      title: KINDS[this.kind].title,
      status: this.status,
      detail: this.detail,
      ...(this.errors ? { errors: [...this.errors] } : {}),
    };
  }
}

/** The status a kind answers with (for the OpenAPI document). */
export function problemStatus(kind: ProblemKind): number {
  return KINDS[kind].status;
}

export const badRequest = (detail: string, errors?: readonly FieldError[]) => new ApiProblem('validation', detail, errors ? { errors } : {});
export const forbidden = (detail: string) => new ApiProblem('forbidden', detail);
export const notFound = (detail: string) => new ApiProblem('not-found', detail);
export const conflict = (detail: string) => new ApiProblem('conflict', detail);
export const tooManyRequests = (retryAfterSeconds: number) =>
  new ApiProblem('too-many-requests', `too many failed sign-in attempts; try again in ${retryAfterSeconds} seconds`, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });

const HUB_KINDS: Record<HubErrorKind, ProblemKind> = {
  invalid: 'validation',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  plan_limit: 'plan-limit',
  not_found: 'not-found',
  conflict: 'conflict',
  too_many_requests: 'too-many-requests',
};

/** Fastify's own 4xx errors (body parsing, timeouts), by status. */
const STATUS_KINDS: Record<number, ProblemKind> = {
  400: 'validation',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'request-timeout',
  409: 'conflict',
  413: 'too-large',
  415: 'unsupported-media-type',
  429: 'too-many-requests',
};

/** Maps any error to a problem once: ours as they are, hub errors by kind, Fastify's by status, the rest as 500. */
export function toProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  if (error instanceof HubError) {
    const headers: Record<string, string> = error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {};
    return new ApiProblem(HUB_KINDS[error.kind], error.message, { headers });
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiProblem(STATUS_KINDS[status] ?? 'validation', fastifyDetail(error as { code?: string; message: string }));
  }
  return new ApiProblem('internal', 'internal error');
}

function fastifyDetail(error: { code?: string; message: string }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'send the request body as application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the request body is empty; send a JSON object';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'the request body is too large';
    case 'FST_ERR_BAD_URL':
      return 'the request path is not valid URL encoding';
    default:
      return error.message;
  }
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  if (problem.kind === 'plan-limit') noteRefusal(reply.request, 'plan');
  reply.code(problem.status).header('content-type', 'application/problem+json').header('cache-control', 'no-store');
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  return reply.send(problem.body());
}
