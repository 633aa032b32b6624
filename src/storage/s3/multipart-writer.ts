import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { MAX_PARTS } from './compose.js';

/** Part buffers one write holds at most by default: one filling, the others uploading. */
export const DEFAULT_PART_BUFFERS = 3;
/** How long unused buffers stay in a pool before they are left to the garbage collector. */
const POOL_IDLE_MS = 15_000;

/**
 * Buffers of one part size, reused from write to write: a push of many appends (chunked PATCHes)
 * then allocates nothing per append. At most `keep` idle buffers are kept, and only while writes
 * come: after POOL_IDLE_MS without one they are dropped (the timer does not hold the process).
 */
export class PartBufferPool {
  private readonly idle: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly partSize: number,
    private readonly keep = DEFAULT_PART_BUFFERS,
  ) {}

  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.partSize);
  }

  /** Returns a buffer nothing refers to any more (not one a failed request may still be sending). */
  give(buffer: Buffer): void {
    if (this.idle.length >= this.keep) return;
    this.idle.push(buffer);
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        this.idle.length = 0;
        this.timer = undefined;
      }, POOL_IDLE_MS);
      this.timer.unref();
    }
  }
}

const pools = new Map<number, PartBufferPool>();

/** The process's pool of buffers of `partSize` bytes. */
export function partBufferPool(partSize: number): PartBufferPool {
  let pool = pools.get(partSize);
  if (!pool) pools.set(partSize, (pool = new PartBufferPool(partSize)));
  return pool;
}

export interface WriteObjectOptions {
  /** bytes of every part but the last, at least 5 MiB */
  partSize: number;
  /** buffers of partSize this write holds at most (2 or more); default DEFAULT_PART_BUFFERS */
  buffers?: number;
  /** parts of one multipart upload at most; default MAX_PARTS (Swift's s3api limit) */
  maxParts?: number;
  /** where buffers come from and go back to; default the process's pool of partSize */
  pool?: PartBufferPool;
}

/**
 * Streams `body`, of any length, into the object `key`; resolves to the bytes written.
 *
 * A body under one part (up to partSize bytes, none included) is one PutObject of its exact bytes.
 * A longer one is a multipart upload: each part is copied into one of a few buffers of partSize
 * and uploaded from there (UploadPart with its Content-Length) while the next fills; when every
 * buffer is full or being sent the body is not read until a part is done, so memory stays at
 * `buffers` × partSize whatever the body's length and the server's speed. A buffer goes back to
 * the pool when its part was stored, and is used again.
 *
 * The object appears whole or not at all: when the body errors, a part fails (after the client's
 * own retries), or there are more than `maxParts` parts, the body stops being read (it is
 * destroyed), the parts in flight are waited for, and the multipart upload is aborted before the
 * error is thrown. A process killed half-way leaves an incomplete multipart upload (the store's
 * sweepIncomplete). Checksums are whatever the client sends (createS3Client: only when required).
 */
export async function writeObject(client: S3Client, bucket: string, key: string, body: Readable, options: WriteObjectOptions): Promise<number> {
  const { partSize } = options;
  const pool = options.pool ?? partBufferPool(partSize);
  if (pool.partSize !== partSize) throw new RangeError(`a pool of ${pool.partSize}-byte buffers cannot hold ${partSize}-byte parts`);
  const limit = Math.max(2, options.buffers ?? DEFAULT_PART_BUFFERS);
  const maxParts = options.maxParts ?? MAX_PARTS;

  /** buffers this write took from the pool */
  let taken = 0;
  /** this write's buffers whose part is stored, ready to fill again */
  const ready: Buffer[] = [];
  /** the parts being uploaded; they never reject (see `failure`) */
  const inFlight = new Set<Promise<void>>();
  /** the first failed part's error */
  let failure: { error: unknown } | undefined;
  let uploadId: Promise<string> | undefined;
  const etags: string[] = [];
  let parts = 0;

  /** A buffer to fill: one of this write's free ones, a new one while under the limit, else the first a part frees. */
  const acquire = async (): Promise<Buffer> => {
    for (;;) {
      if (failure) throw failure.error;
      const buffer = ready.pop();
      if (buffer) return buffer;
      if (taken < limit) {
        taken++;
        return pool.take();
      }
      if (inFlight.size === 0) throw new Error('multipart writer: no buffer is free and no part is in flight');
      await Promise.race(inFlight);
    }
  };

  /** Starts uploading the part in `buffer[0, length)`; the buffer is the part's until it is stored. */
  const send = (buffer: Buffer, length: number) => {
    const partNumber = ++parts;
    if (partNumber > maxParts) throw new Error(`${key}: more than ${maxParts} parts of ${partSize} bytes`);
    uploadId ??= client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })).then(({ UploadId }) => {
      if (!UploadId) throw new Error(`CreateMultipartUpload of ${key} returned no upload id`);
      return UploadId;
    });
    const part = uploadId
      .then((UploadId) =>
        client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: partNumber, Body: buffer.subarray(0, length), ContentLength: length }),
        ),
      )
      .then(
        ({ ETag }) => {
          if (!ETag) throw new Error(`UploadPart ${partNumber} of ${key} returned no ETag`);
          etags[partNumber - 1] = ETag;
          ready.push(buffer);
        },
        // the buffer is dropped: a request that failed may still have it in a socket's queue
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inFlight.delete(part));
    inFlight.add(part);
  };

  let filling: Buffer | undefined;
  let filled = 0;
  let total = 0;
  try {
    // a break or a throw out of this loop destroys the body (and stops reading it)
    for await (const chunk of body) {
      let data = asBuffer(chunk);
      total += data.length;
      while (data.length > 0) {
        // a full buffer is sent only once more bytes come: a body of exactly one part is one PUT
        if (filling && filled === partSize) {
          send(filling, filled);
          filling = undefined;
        }
        if (!filling) {
          filling = await acquire();
          filled = 0;
        }
        const copied = data.copy(filling, filled);
        filled += copied;
        data = data.subarray(copied);
      }
      if (failure) throw failure.error;
    }

    if (parts === 0) {
      const bytes = filling ? filling.subarray(0, filled) : Buffer.alloc(0);
      const sent = filling;
      filling = undefined; // until it is stored: a failed PUT may still be sending it
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
      if (sent) ready.push(sent);
      return total;
    }
    send(filling!, filled); // the last part, not empty (a buffer is taken only for bytes)
    filling = undefined;
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: await uploadId!,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    return total;
  } catch (error) {
    // no part may land after the abort (on Swift it would leave a segment behind)
    while (inFlight.size > 0) await Promise.all(inFlight);
    const id = await uploadId?.catch(() => undefined);
    if (id) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id })).catch(() => {});
    throw error;
  } finally {
    if (filling) ready.push(filling);
    for (const buffer of ready) pool.give(buffer);
  }
}

/** A chunk of a byte stream (Buffer, other Uint8Array, or a string of an object-mode one) as a Buffer, not copied. */
function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError(`a body chunk must be bytes or a string, not ${typeof chunk}`);
}
