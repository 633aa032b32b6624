import type { Readable } from 'node:stream';
import type { Observer } from '../blob-store.js';

/**
 * Reads a request body in runs of at most so many bytes, one run per segment object: a chunk
 * that crosses the end of a run is split, its rest starts the next run.
 */
export class BodyCursor {
  private readonly source: AsyncIterator<Buffer>;
  private pending: Buffer | undefined;
  private ended = false;
  /** bytes handed out so far */
  received = 0;

  /** `observe` sees every chunk as it is read from the body, in order. */
  constructor(
    body: Readable,
    private readonly observe?: Observer,
  ) {
    this.source = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Whether any byte is left (waits for the next non-empty chunk, or the end). */
  async more(): Promise<boolean> {
    while (!this.pending?.length && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else {
        this.pending = next.value;
        await this.observe?.(next.value);
      }
    }
    return !!this.pending?.length;
  }

  /** The next bytes of the body, `limit` at most. */
  async *take(limit: number): AsyncGenerator<Buffer> {
    let left = limit;
    while (left > 0 && (await this.more())) {
      let chunk = this.pending!;
      this.pending = undefined;
      if (chunk.length > left) {
        this.pending = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      this.received += chunk.length;
      yield chunk;
    }
  }

  /** Stops reading: the body is destroyed unless it ended (a failed write releases the request). */
  async release(): Promise<void> {
    await this.source.return?.();
  }
}
