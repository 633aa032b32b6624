import { z } from 'zod';
import { parseDuration } from '../../server/duration.js';
import { badRequest } from './problem.js';

/** Validates a JSON body against `schema`; a 400 problem names the first field that is wrong. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object (Content-Type: application/json)');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') throw badRequest(`unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`);
  const field = issue.path.map(String).join('.');
  throw badRequest(field ? `${field}: ${issue.message}` : issue.message);
}

/** The longest lifetime a personal access token may be given. */
export const MAX_TOKEN_LIFETIME_SECONDS = 5 * 366 * 86_400;

/**
 * A token lifetime in seconds, from a number of seconds, a string of digits (seconds) or a
 * duration (`30d`, `12h`); undefined when it is none of those, not positive, or over 5 years.
 */
export function tokenLifetimeSeconds(value: string | number): number | undefined {
  let seconds: number | undefined;
  if (typeof value === 'number') seconds = value;
  else if (/^\d+$/.test(value.trim())) seconds = Number(value.trim());
  else {
    const ms = parseDuration(value);
    seconds = ms === undefined ? undefined : ms / 1000;
  }
  if (seconds === undefined || !Number.isInteger(seconds) || seconds <= 0 || seconds > MAX_TOKEN_LIFETIME_SECONDS) return undefined;
  return seconds;
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
