import { z } from 'zod';

/** Schemas that several routes' answers share. */

/** An instant as ISO 8601 in UTC (`2026-01-31T12:00:00.000Z`). */
export const Timestamp = z.iso.datetime().meta({ id: 'Timestamp', description: 'ISO 8601, UTC' });

/** An instant, or null when it has not happened (never used, never expires). */
export const OptionalTimestamp = Timestamp.nullable();

/** A list without paging: `{count, results}` (the short lists: tokens, members, teams). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ count: z.number().int(), results: z.array(item) });
}
