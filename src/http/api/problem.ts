import type { FastifyReply } from 'fastify';
import { HubError, type HubErrorKind } from '../../hub/errors.js';

/** An RFC 9457 problem: every /api error leaves as `application/problem+json` `{type, title, status, detail}`. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
};

const HUB_STATUS: Record<HubErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_many_requests: 429,
};

export const badRequest = (detail: string) => new ApiProblem(400, detail);
export const forbidden = (detail: string) => new ApiProblem(403, detail);
export const notFound = (detail: string) => new ApiProblem(404, detail);
export const tooManyRequests = (retryAfterSeconds: number) =>
  new ApiProblem(429, `too many failed sign-in attempts; try again in ${retryAfterSeconds} seconds`, {
    'retry-after': String(retryAfterSeconds),
  });

/** Maps any error to a problem once: ours as they are, hub errors by kind, Fastify's by status, the rest as 500. */
export function toProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  if (error instanceof HubError) {
    const status = HUB_STATUS[error.kind];
    const headers: Record<string, string> = error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {};
    return new ApiProblem(status, error.message, headers);
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiProblem(status, fastifyDetail(error as { code?: string; message: string }));
  }
  return new ApiProblem(500, 'internal error');
}

function fastifyDetail(error: { code?: string; message: string }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'send the request body as application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the request body is empty; send a JSON object';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'the request body is too large';
    default:
      return error.message;
  }
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  reply.code(problem.status).header('content-type', 'application/problem+json').header('cache-control', 'no-store');
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  return reply.send({ type: 'about:blank', title: TITLES[problem.status] ?? 'Error', status: problem.status, detail: problem.detail });
}
