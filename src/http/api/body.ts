import { parseDuration } from '../../server/duration.js';

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
