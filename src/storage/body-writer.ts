import { writev } from 'node:fs';
import { finished, type Readable } from 'node:stream';
import type { Observer } from './blob-store.js';

/**
 * Bytes gathered before a write: a client that streams slowly (docker sends its gzip output in
 * 32 KiB chunks, several layers at once) would otherwise cost one thread-pool write, with its
 * wake-ups, per socket read. Not more: at 1 MiB (measured) a fast chunked upload cost 30% more
 * CPU per MB, holding more of the body for the collector.
 */
const WRITE_AT = 256 * 1024;
/**
 * ...or until the oldest gathered byte waited this long: a slow or stalled client's bytes reach
 * the file soon after they arrive, and are not held in memory (one upload's at most WRITE_AT).
 */
const WRITE_AFTER_MS = 20;
/** Bytes a body may have gathered while a write is in flight before it is paused. */
const PAUSE_AT = 2 * 1024 * 1024;

/**
 * Appends `body` to the file `fd` (opened with O_APPEND) and resolves to the bytes written. Each
 * piece of the body goes to `observe` (a hash; a quota, which may hold the body) as it arrives;
 * the pieces are gathered to WRITE_AT bytes (or WRITE_AFTER_MS, or the body's end) and written together by one
 * writev(2), and those that arrive while it is in flight by the next: no stream stage per piece,
 * and one thread-pool job per 256 KiB instead of one per socket read, however slowly the
 * client sends.
 *
 * O_APPEND, not a position: a writer that stalled past its claim and wakes after another writer
 * truncated and refilled the file adds bytes past the end (which a commit cuts off), never over
 * what the new writer wrote. It settles only once no write is in flight. A body that fails (a
 * client gone) rejects with its error; a write that fails rejects with that error and leaves the
 * body paused and unread, for its owner to answer and drain.
 */
export function appendBody(fd: number, body: Readable, observe?: Observer): Promise<number> {
  return new Promise((resolve, reject) => {
    let batch: Buffer[] = [];
    let batched = 0;
    let writing = false;
    let ended = false;
    let written = 0;
    let failure: unknown;
    let settled = false;
    let admitting = false;
    let timer: NodeJS.Timeout | undefined;

    const settle = () => {
      if (settled || writing || admitting) return;
      settled = true;
      clearTimeout(timer);
      body.off('data', onData);
      if (failure !== undefined) reject(failure);
      else resolve(written);
    };

    /** Writes what was gathered once the oldest of it waited WRITE_AFTER_MS, unless a write takes it first. */
    const writeSoon = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        if (!writing && !settled && batched > 0) flush();
      }, WRITE_AFTER_MS);
    };

    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      const buffers = batch;
      const bytes = batched;
      batch = [];
      batched = 0;
      writing = true;
      writev(fd, buffers, null, (error, count) => {
        writing = false;
        if (!error && count !== bytes) error = new Error(`wrote ${count} of ${bytes} bytes`) as NodeJS.ErrnoException;
        if (error) {
          failure ??= error;
          body.pause();
          return settle();
        }
        written += bytes;
        if (failure !== undefined) return settle();
        if (batched >= WRITE_AT || (ended && batched > 0)) return flush();
        if (ended) return settle();
        if (batched > 0) writeSoon();
        if (body.isPaused() && !admitting) body.resume();
      });
    };

    const take = (bytes: Buffer) => {
      batch.push(bytes);
      batched += bytes.length;
      if (!writing && batched >= WRITE_AT) return flush();
      if (batched >= PAUSE_AT) body.pause();
      if (!writing) writeSoon();
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
            if (writing) return;
            if (batched > 0) flush();
            else settle();
          } else if (batched < PAUSE_AT) body.resume();
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
      if (batched > 0) flush();
      else settle();
    });
    body.on('data', onData);
  });
}
