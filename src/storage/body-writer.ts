import { writev } from 'node:fs';
import { finished, type Readable } from 'node:stream';
import type { Observer } from './blob-store.js';

/** The buffers bodies are copied into, reused from append to append. */
const SLAB_BYTES = 1024 * 1024;
/** Bytes a body may have waiting to be written before it is paused. */
const PAUSE_AT = 2 * SLAB_BYTES;
/** Idle slabs kept for the next appends (the rest are left to the garbage collector). */
const KEEP_SLABS = 16;

const idleSlabs: Buffer[] = [];

function takeSlab(): Buffer {
  return idleSlabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
}

/** The whole slab a part of it belongs to (a slab is its own ArrayBuffer: allocUnsafeSlow). */
function slabOf(part: Buffer): Buffer {
  return Buffer.from(part.buffer, 0, SLAB_BYTES);
}

function giveSlab(slab: Buffer): void {
  if (idleSlabs.length < KEEP_SLABS) idleSlabs.push(slab);
}

/**
 * Appends `body` to the file `fd` (opened with O_APPEND) and resolves to the bytes written. Each
 * piece of the body goes to `observe` (a hash; a quota, which may hold the body) as it arrives,
 * and is copied into a slab of a pool: the socket's own buffer dies young, whatever the disk's
 * pace. (Held until written, socket buffers would outlive two young-generation collections when
 * the disk lags and be promoted; their bytes then count against the old generation, and a push
 * turns into a run of full collections that costs more than the copy, ~0.1 ms per MB.) A slab is
 * written when no write is in flight, and what fills meanwhile goes with the next writev(2): as
 * the bytes come faster than single writes finish, fewer, larger writes.
 *
 * O_APPEND, not a position: a writer that stalled past its claim and wakes after another writer
 * truncated and refilled the file adds bytes past the end (which a commit cuts off), never over
 * what the new writer wrote. It settles only once no write is in flight. A body that fails (a
 * client gone) rejects with its error; a write that fails rejects with that error and leaves the
 * body paused and unread, for its owner to answer and drain.
 */
export function appendBody(fd: number, body: Readable, observe?: Observer): Promise<number> {
  return new Promise((resolve, reject) => {
    /** the slab being filled, and where its unwritten part starts and ends */
    let slab: Buffer | undefined;
    let from = 0;
    let to = 0;
    /** full slabs not written yet (their unwritten part) */
    let full: Buffer[] = [];
    let waiting = 0;
    let writing = false;
    let ended = false;
    let written = 0;
    let failure: unknown;
    let settled = false;
    let admitting = false;

    const settle = () => {
      if (settled || writing || admitting) return;
      settled = true;
      body.off('data', onData);
      for (const part of full) giveSlab(slabOf(part));
      if (slab) giveSlab(slab);
      full = [];
      slab = undefined;
      if (failure !== undefined) reject(failure);
      else resolve(written);
    };

    const flush = () => {
      // a full slab goes back to the pool once written; the one being filled stays and fills on
      if (slab && to === SLAB_BYTES) {
        if (to > from) full.push(slab.subarray(from, to));
        slab = undefined;
      }
      const released = full;
      const partial = slab && to > from ? slab.subarray(from, to) : undefined;
      full = [];
      from = to;
      const buffers = partial ? [...released, partial] : released;
      const bytes = waiting;
      waiting = 0;
      writing = true;
      writev(fd, buffers, null, (error, count) => {
        writing = false;
        for (const part of released) giveSlab(slabOf(part));
        if (!error && count !== bytes) error = new Error(`wrote ${count} of ${bytes} bytes`) as NodeJS.ErrnoException;
        if (error) {
          failure ??= error;
          body.pause();
          return settle();
        }
        written += bytes;
        if (failure !== undefined) return settle();
        if (waiting > 0) return flush();
        if (ended) return settle();
        if (body.isPaused() && !admitting) body.resume();
      });
    };

    const take = (bytes: Buffer) => {
      for (let at = 0; at < bytes.length; ) {
        if (!slab || to === SLAB_BYTES) {
          // a full slab waits for its write (a slab written to its end was let go by flush)
          if (slab) full.push(slab.subarray(from, to));
          slab = takeSlab();
          from = to = 0;
        }
        const n = bytes.copy(slab, to, at, Math.min(bytes.length, at + SLAB_BYTES - to));
        to += n;
        at += n;
      }
      waiting += bytes.length;
      if (!writing) flush();
      else if (waiting >= PAUSE_AT) body.pause();
    };

    const onData = (bytes: Buffer) => {
      const admitted = observe?.(bytes);
      if (!admitted) return take(bytes);
      // held until the observer settles: nothing more arrives meanwhile, so the order is kept
      body.pause();
      admitting = true;
      admitted.then(
        () => {
          admitting = false;
          if (settled) return;
          take(bytes);
          if (ended) {
            if (!writing) settle();
          } else if (waiting < PAUSE_AT) body.resume();
        },
        (error: unknown) => {
          admitting = false;
          failure ??= error;
          settle();
        },
      );
    };

    // the end, or an error or a premature close of the body (a client that went away); watched
    // for good, so that an error the body emits after this settled is never an uncaught one
    finished(body, { writable: false }, (error) => {
      if (settled) return;
      if (error) {
        failure ??= error;
        return settle();
      }
      ended = true;
      if (writing || admitting) return;
      if (waiting > 0) flush();
      else settle();
    });
    body.on('data', onData);
  });
}
