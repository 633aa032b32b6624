import type { Readable, Writable } from 'node:stream';
import { parseDigest, type Digest } from '../oci/digest.js';

/** Sees each piece of a body a store appends, before it is written; may hold the body (a promise). */
export type Observer = (bytes: Buffer) => void | Promise<void>;

/** An inclusive byte range, as HTTP counts it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredUpload {
  uploadId: string;
  modifiedAt: number;
}

/** A committed blob as the store lists it. */
export interface StoredBlob {
  digest: Digest;
  size: number;
  /** when its object was written (epoch ms: the file's mtime, the object's LastModified) */
  modifiedAt: number;
}

/**
 * Content-addressed bytes. A blob becomes visible under its digest only through `commit`, after
 * the caller verified the digest of what was appended; an upload is an append-only object that
 * any replica can continue. Which repository may read which blob is not the store's business.
 */
export interface BlobStore {
  /** Size of a committed blob, or undefined when the store does not hold it. */
  stat(digest: Digest): Promise<number | undefined>;
  /** Streams a committed blob, or the inclusive range of it. Rejects with BlobNotFound. */
  read(digest: Digest, range?: ByteRange): Promise<Readable>;
  delete(digest: Digest): Promise<void>;
  /**
   * Optional capability: writes a blob's range straight into `destination`, reusing its read
   * buffers (a stream allocates one per read, and on the download path that churn is what costs).
   * `opened` runs once the blob was found, before the first byte is written.
   */
  writeTo?(digest: Digest, range: ByteRange, destination: Writable, opened: () => void): Promise<void>;

  createUpload(uploadId: string): Promise<void>;
  /**
   * Appends `body` at `offset` and resolves to the new size. Bytes past `offset` left by an
   * earlier, interrupted append are discarded first, so a failed request never corrupts an upload.
   * `observe` gets every piece of the body in order as it is read (the caller hashes them there:
   * no stream stage between the socket and the store); when it returns a promise, the body is
   * held until it settles, and a rejection fails the append with its error (a quota's refusal).
   * It settles only once nothing of this append is still being written.
   */
  append(uploadId: string, offset: number, body: Readable, observe?: Observer): Promise<number>;
  /**
   * Moves the first `size` bytes of the upload (what the caller verified; an interrupted append
   * may have left more) to the digest's place. An existing blob is kept: same digest, same bytes.
   */
  commit(uploadId: string, digest: Digest, size: number): Promise<void>;
  abortUpload(uploadId: string): Promise<void>;
  /** Uploads the store holds, for sweeping the ones no session row knows any more. */
  listUploads(): AsyncIterable<StoredUpload>;
  /**
   * Optional capability: every committed blob the store holds, streamed (a page of the listing at
   * a time, never the whole store in memory), in no particular order; what is not a blob of
   * Pier's layout is skipped. `pier fsck` finds there the bytes that no index row knows.
   */
  listBlobs?(): AsyncIterable<StoredBlob>;
  /**
   * Optional capability: reading the first `length` bytes of an unfinished upload back (every
   * driver here can; without it, a chunk cannot continue on a process that lost the hash).
   */
  readUpload?(uploadId: string, length: number): Promise<Readable>;
  /**
   * Optional capability: removes what an interrupted write left behind that listUploads does not
   * see (S3: multipart uploads of a process killed during an append or a commit, invisible and
   * billed until aborted), when it started before `olderThan` (epoch ms; a write still running
   * must have started after it). Resolves to how many were removed.
   */
  sweepIncomplete?(olderThan: number): Promise<number>;
  /**
   * Optional capability: a URL where a client can GET the committed blob itself for a while
   * (S3 with `redirect=true`: a presigned GetObject URL; the client sends its Range header there
   * as it would here), or undefined to serve the bytes through Pier.
   */
  redirectUrl?(digest: Digest): Promise<string | undefined>;
  /**
   * Optional capability: throws an Error that says what is wrong when the backend is unusable
   * (S3: bucket missing or unreachable, credentials rejected; filesystem: root not writable).
   */
  check?(): Promise<void>;
  close?(): Promise<void>;
}

export class BlobNotFound extends Error {
  constructor(what: string) {
    super(`not found in the blob store: ${what}`);
    this.name = 'BlobNotFound';
  }
}

export class UploadNotFound extends Error {
  constructor(uploadId: string) {
    super(`upload not found in the blob store: ${uploadId}`);
    this.name = 'UploadNotFound';
  }
}

/**
 * The store cannot be used at all right now: its bucket does not exist, its credentials are
 * refused, it does not answer. Neither the request's fault nor a bug: the message says what the
 * operator must fix (the HTTP adapters answer 503 and log it, once, without a stack).
 */
export class StorageUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailable';
  }
}

/** Upload ids come from the registry (UUIDs), but a store never trusts a path component. */
export function isUploadId(uploadId: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(uploadId);
}

export function assertUploadId(uploadId: string): void {
  if (!isUploadId(uploadId)) throw new UploadNotFound(uploadId);
}

/**
 * The digest that a blob's place names in the layout every driver shares,
 * `blobs/<algorithm>/<first 2 hex>/<hex>`, or undefined for anything else (a stray file).
 */
export function blobDigest(algorithm: string, fanout: string, name: string): Digest | undefined {
  if (name.slice(0, 2) !== fanout) return undefined;
  try {
    return parseDigest(`${algorithm}:${name}`);
  } catch {
    return undefined;
  }
}
