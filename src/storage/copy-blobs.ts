import { createHash, randomUUID, type Hash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import { digestAlgorithm, makeDigest, type Digest } from '../oci/digest.js';
import { BlobNotFound, type BlobStore } from './blob-store.js';

/**
 * Copies blobs from one BlobStore to another through the port (createUpload, append, commit), for
 * `pier migrate-storage`. Each blob streams from the source into an upload of the target while it
 * is hashed, and is committed only when its digest and size match; nothing is held in memory. A
 * blob the target already holds with the right size is skipped, so a rerun resumes.
 */

export interface BlobToCopy {
  digest: Digest;
  size: number;
}

export type BlobOutcome =
  /** streamed into the target and committed */
  | 'copied'
  /** the target held it already, with the right size */
  | 'present'
  /** the source store does not hold it */
  | 'missing'
  /** the source's bytes do not match the digest or the size: not copied */
  | 'corrupt'
  /** rereading the target (`verify`) gave other bytes */
  | 'unverified'
  /** an error of either store */
  | 'failed';

export interface BlobResult extends BlobToCopy {
  outcome: BlobOutcome;
  /** what went wrong, for the outcomes that are problems */
  detail?: string;
  /** the target's digest was reread and matched */
  verified?: boolean;
}

export interface BlobCopyReport {
  total: number;
  totalBytes: number;
  copied: number;
  copiedBytes: number;
  present: number;
  presentBytes: number;
  /** blobs reread from the target and found right (with `verify`) */
  verified: number;
  /** every blob that was not copied or checked as it should be */
  problems: BlobResult[];
}

export interface CopyBlobsOptions {
  source: BlobStore;
  target: BlobStore;
  blobs: AsyncIterable<BlobToCopy>;
  /** blobs in flight at once (default 4) */
  concurrency?: number;
  /** reread every target blob, copied or already there, and check its digest */
  verify?: boolean;
  onBlob?: (result: BlobResult) => void;
}

export const PROBLEMS: ReadonlySet<BlobOutcome> = new Set(['missing', 'corrupt', 'unverified', 'failed']);

export async function copyBlobs(options: CopyBlobsOptions): Promise<BlobCopyReport> {
  const report: BlobCopyReport = { total: 0, totalBytes: 0, copied: 0, copiedBytes: 0, present: 0, presentBytes: 0, verified: 0, problems: [] };
  await forEachConcurrently(options.blobs, options.concurrency ?? 4, async (blob) => {
    const result = await copyBlob(options.source, options.target, blob, options.verify === true);
    report.total++;
    report.totalBytes += blob.size;
    if (result.outcome === 'copied') {
      report.copied++;
      report.copiedBytes += blob.size;
    } else if (result.outcome === 'present') {
      report.present++;
      report.presentBytes += blob.size;
    } else {
      report.problems.push(result);
    }
    if (result.verified) report.verified++;
    options.onBlob?.(result);
  });
  return report;
}

/** Copies one blob; never throws: what went wrong is in the result. */
export async function copyBlob(source: BlobStore, target: BlobStore, blob: BlobToCopy, verify: boolean): Promise<BlobResult> {
  const { digest, size } = blob;
  try {
    const there = await target.stat(digest);
    let outcome: BlobOutcome = 'present';
    if (there !== size) {
      // A blob of the wrong size under this digest lies about its content: replace it.
      if (there !== undefined) await target.delete(digest);
      const copied = await streamInto(source, target, blob);
      if (copied.outcome !== 'copied') return copied;
      outcome = 'copied';
    }
    if (!verify) return { digest, size, outcome };
    const reread = await readDigest(target, digest, size);
    if (reread !== digest) return { digest, size, outcome: 'unverified', detail: `the target holds ${reread}` };
    return { digest, size, outcome, verified: true };
  } catch (error) {
    if (error instanceof BlobNotFound) return { digest, size, outcome: 'missing', detail: 'the source store does not hold it' };
    return { digest, size, outcome: 'failed', detail: (error as Error).message || String(error) };
  }
}

async function streamInto(source: BlobStore, target: BlobStore, blob: BlobToCopy): Promise<BlobResult> {
  const { digest, size } = blob;
  if ((await source.stat(digest)) === undefined) return { digest, size, outcome: 'missing', detail: 'the source store does not hold it' };
  const uploadId = randomUUID();
  await target.createUpload(uploadId);
  let committed = false;
  try {
    const hash = createHash(digestAlgorithm(digest));
    const body = await source.read(digest);
    const written = await target.append(uploadId, 0, hashing(body, hash, size));
    const actual = makeDigest(digestAlgorithm(digest), hash.digest('hex'));
    if (written !== size || actual !== digest) {
      const what = written !== size ? `${written} bytes instead of ${size}` : `bytes that hash to ${actual}`;
      return { digest, size, outcome: 'corrupt', detail: `the source holds ${what}: not copied` };
    }
    await target.commit(uploadId, digest, size);
    committed = true;
    return { digest, size, outcome: 'copied' };
  } catch (error) {
    if (error instanceof TooLong) return { digest, size, outcome: 'corrupt', detail: `the source holds more than ${size} bytes: not copied` };
    throw error;
  } finally {
    if (!committed) await target.abortUpload(uploadId).catch(() => {});
  }
}

class TooLong extends Error {}

/** `body` passed through `hash`; more than `limit` bytes end the stream with TooLong, so a wrong blob is not copied in full. */
function hashing(body: Readable, hash: Hash, limit: number): Readable {
  let bytes = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > limit) return callback(new TooLong());
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  // pipeline, not pipe: an error of the source ends the transform with it, so the append fails too
  pipeline(body, transform, () => {});
  return transform;
}

/** Rereads a blob and returns the digest of its bytes (or says how long it was, when not `size`). */
export async function readDigest(store: BlobStore, digest: Digest, size: number): Promise<string> {
  const hash = createHash(digestAlgorithm(digest));
  let bytes = 0;
  for await (const chunk of await store.read(digest)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  if (bytes !== size) return `${bytes} bytes instead of ${size}`;
  return makeDigest(digestAlgorithm(digest), hash.digest('hex'));
}

/**
 * Runs `work` on the items with at most `limit` in flight, pulling the next item only when a
 * worker is free (the source is never read ahead). The first error of the iterator or of `work`
 * stops the workers and is rethrown once all have stopped.
 */
export async function forEachConcurrently<T>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  let failure: { error: unknown } | undefined;
  let pulling: Promise<unknown> = Promise.resolve();
  // one pull at a time: a plain async iterator need not support concurrent next()
  const next = (): Promise<IteratorResult<T>> => {
    const result = pulling.then(() => iterator.next());
    pulling = result.catch(() => {});
    return result;
  };
  const worker = async () => {
    while (!failure) {
      let item: IteratorResult<T>;
      try {
        item = await next();
      } catch (error) {
        failure ??= { error };
        return;
      }
      if (item.done) return;
      try {
        await work(item.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure) {
    await iterator.return?.().catch(() => {});
    throw failure.error;
  }
}
