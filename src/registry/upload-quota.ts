import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { OciError } from '../oci/errors.js';
import type { PushAllowance } from './ports.js';

/** What a request body may still write, under a namespace's storage allowance. */
export interface Quota {
  /** the DENIED error of a body past the allowance (made when asked: an error captures its stack) */
  readonly refusal: OciError;
  /** set once the body went past the allowance */
  exceeded: boolean;
  /**
   * Counts the body's bytes as they arrive (the store's `observe`): nothing to wait for while they
   * stay within the reservation; past it, a promise that settles once more room is reserved (the
   * store holds the body meanwhile), or rejects with the refusal when there is none.
   */
  admit(bytes: Buffer): Promise<void> | undefined;
}

/**
 * Records a reservation of `reserved` bytes for the body in flight; resolves to the blob's new
 * maxBytes (NaN when `check` is false: a smaller reservation needs no check).
 */
export type Reserve = (reserved: number, check?: boolean) => Promise<number>;

/**
 * A body past its reservation reserves a quarter of the room it has left, within these bounds:
 * few database round trips for a large layer, and little held ahead of the bytes near the quota.
 */
const RESERVATION_STEP = { min: 64 * 1024, max: 8 * 1024 * 1024 };

/** A declared length that parallel reservations leave no room for is tried again this often, after a pause of 10 to 60 ms. */
const RESERVATION_ATTEMPTS = 8;

/** What a body in flight reserves next, having received `received` bytes with `room` left to it as last known. */
function nextReservation(received: number, room: number): number {
  const step = Math.min(RESERVATION_STEP.max, Math.max(RESERVATION_STEP.min, Math.floor((room - received) / 4)));
  return Math.max(received, Math.min(room, received + step));
}

/**
 * The storage a push may still use, for a blob that holds `offset` bytes already and a body whose
 * declared length (if any) is reserved already: undefined when the gate sets no limit; a refusal
 * (thrown) when the declared length is too much. Parallel bodies that reserved at once may each
 * find no room while some of them would fit: such a body gives its reservation back, waits a
 * random moment and tries again, a few times, so that the ones that fit go on. Past its
 * reservation, a body reserves more as it streams (`Quota.admit`): in steps, never more than the
 * room last known, unless the body is already past it; past the room it is refused.
 */
export async function quotaFor(
  allowance: PushAllowance | void,
  offset: number,
  declared: number | undefined,
  body: Readable,
  reserve: Reserve,
): Promise<Quota | undefined> {
  if (!allowance || allowance.maxBytes === undefined) return undefined;
  let maxBytes = allowance.maxBytes;
  for (let attempt = 1; declared !== undefined && declared > maxBytes - offset && attempt < RESERVATION_ATTEMPTS; attempt++) {
    await reserve(0, false);
    await delay(10 + Math.random() * 50);
    maxBytes = await reserve(declared);
  }
  let denied: OciError | undefined;
  const refusal = () => (denied ??= new OciError('DENIED', allowance.refusal ?? 'this upload is larger than the storage left to this namespace', { byPlan: true }));
  let room = maxBytes - offset;
  if (declared !== undefined && declared > room) {
    body.resume();
    throw refusal();
  }
  let reserved = declared ?? 0;
  let received = 0;
  const quota: Quota = {
    get refusal() {
      return refusal();
    },
    exceeded: false,
    admit(bytes) {
      received += bytes.length;
      if (received <= reserved) return undefined;
      const wanted = nextReservation(received, room);
      return reserve(wanted).then(async (maxBytes) => {
        room = maxBytes - offset;
        reserved = wanted;
        if (received > room) {
          quota.exceeded = true;
          throw refusal();
        }
        // others reserved meanwhile: hold no more than is left, so that they may go on too
        if (wanted > room) {
          await reserve(room, false);
          reserved = room;
        }
      });
    },
  };
  return quota;
}
