import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { digestAlgorithm, makeDigest, parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { namespaceOf, type RepositoryName } from '../oci/names.js';
import { BlobBeingDeleted, type RegistryIndex, type UploadRecord } from '../metadata/registry-index.js';
import { UploadNotFound, type BlobStore } from '../storage/blob-store.js';
import type { Actor, Clock, PushGate, RegistryEvents } from './ports.js';
import { quotaFor, type Quota, type Reserve } from './upload-quota.js';

/** The sha256 of no bytes: where every upload session starts. */
const EMPTY_SHA256 = createHash('sha256').digest('hex');

export interface UploadStatus {
  uploadId: string;
  repository: RepositoryName;
  /** bytes received so far */
  size: number;
}

export interface ChunkInfo {
  /** Content-Range of the chunk, when the client sent one */
  range?: { start: number; end: number };
  /** Content-Length, when the client sent one */
  length?: number;
}

export interface UploadOptions {
  /** how long a session may stay idle before it and its bytes are removed */
  ttlMs: number;
  /**
   * How long a claim on a session holds without renewal: a writer renews it every third of this
   * while its chunk streams, so a process that dies mid-chunk blocks its session this long at most.
   */
  claimMs?: number;
  /** hashes kept in memory for sessions in progress, so chunks continue without rereading */
  liveHashLimit?: number;
  /**
   * Open sessions a namespace may hold at once (default 100): each may receive bytes at any time,
   * so without a bound one account could open thousands and fill the disk past any quota.
   */
  maxOpenSessions?: number;
}

/**
 * Blob uploads: sessions are rows, bytes live in the BlobStore, and the sha256 of the bytes so far
 * is recorded after every chunk, so the final PUT can complete on any replica. A request claims
 * its session in the database before it writes a byte, so two writers never interleave.
 */
export class UploadService {
  private readonly live = new Map<string, { hash: Hash; size: number }>();

  constructor(
    private readonly index: RegistryIndex,
    private readonly store: BlobStore,
    private readonly gate: PushGate,
    private readonly events: RegistryEvents,
    private readonly clock: Clock,
    private readonly options: UploadOptions,
  ) {}

  async start(repository: RepositoryName, actor: Actor): Promise<UploadStatus> {
    await this.gate.check({ repository, actor, sizeDelta: 0, operation: 'upload', held: 0 });
    const namespace = namespaceOf(repository);
    const limit = this.options.maxOpenSessions ?? 100;
    const open = await this.index.countUploads(namespace);
    if (open >= limit) {
      throw new OciError(
        'DENIED',
        `${namespace} has ${open} open upload sessions, the most allowed at once (uploads.maxOpenSessions = ${limit}): finish or cancel some (DELETE), or wait until idle ones expire`,
      );
    }
    const uploadId = randomUUID();
    const now = this.clock.now();
    await this.store.createUpload(uploadId);
    await this.index.createUpload({ id: uploadId, repository, size: 0, sha256: EMPTY_SHA256, created_at: now, updated_at: now });
    return { uploadId, repository, size: 0 };
  }

  async status(repository: RepositoryName, uploadId: string): Promise<UploadStatus> {
    const session = await this.session(repository, uploadId);
    return { uploadId, repository, size: session.size };
  }

  /** Appends one chunk (PATCH). Chunks must arrive in order: anything else answers 416. */
  async append(repository: RepositoryName, uploadId: string, body: Readable, chunk: ChunkInfo): Promise<UploadStatus> {
    const session = await this.session(repository, uploadId);
    checkOrder(session, chunk, body);
    const { size } = await this.claimed(session, (claim) => this.appendTo(session, claim, body, chunk), chunk.length);
    return { uploadId, repository, size };
  }

  /** Finishes an upload (PUT ?digest=), with or without a last chunk in the body. */
  async complete(
    repository: RepositoryName,
    uploadId: string,
    digestParam: string | undefined,
    body: Readable | undefined,
    chunk: ChunkInfo,
    actor: Actor,
  ): Promise<{ digest: Digest; size: number }> {
    const digest = requireDigest(digestParam);
    let session = await this.session(repository, uploadId);
    if (body) checkOrder(session, chunk, body);
    return this.claimed(session, async (claim) => {
      if (body) session = await this.appendTo(session, claim, body, chunk, false);
      const actual = await this.digestOf(session, digestAlgorithm(digest));
      if (actual !== digest) {
        await this.discard(uploadId);
        throw new OciError('DIGEST_INVALID', `provided digest ${digest} does not match the uploaded content (${actual})`);
      }
      // a writer that lost its claim (it stalled past the claim's time) must not commit bytes
      // that another writer may have replaced since
      if (claim.lost || !(await this.index.holdsUploadClaim(uploadId, claim.id, this.clock.now()))) throw claimLost();
      try {
        await this.store.commit(uploadId, digest, session.size);
      } catch (error) {
        if (!(error instanceof UploadNotFound)) throw error;
        await this.discard(uploadId);
        throw new OciError('BLOB_UPLOAD_UNKNOWN', 'upload data is gone (expired or cancelled); restart the upload');
      }
      try {
        await this.index.completeUpload(uploadId, repository, digest, session.size, this.clock.now(), this.bytesPresent(digest));
      } catch (error) {
        if (!(error instanceof BlobBeingDeleted)) throw error;
        await this.discard(uploadId);
        throw collected(digest);
      }
      this.live.delete(uploadId);
      this.events.emit({ type: 'blob.uploaded', repository, digest, size: session.size, actor });
      return { digest, size: session.size };
    }, body ? chunk.length : 0);
  }

  /**
   * A whole blob in one request (POST ?digest=): nothing visible until verified. It has a session
   * row while its body streams, claimed from the start, so that its bytes count against the
   * namespace's quota (and the idle sweep leaves it alone) like a chunked upload's.
   */
  async monolithic(repository: RepositoryName, digestParam: string, body: Readable, chunk: ChunkInfo, actor: Actor) {
    const digest = requireDigest(digestParam);
    const uploadId = randomUUID();
    const now = this.clock.now();
    const claim: Claim = { id: randomUUID(), lost: false };
    const reserved = chunk.length ?? 0;
    const session = { id: uploadId, repository, size: 0, sha256: EMPTY_SHA256, created_at: now, updated_at: now };
    await this.index.createUpload(session, { claim: claim.id, until: now + this.claimMs, reserved });
    try {
      return await this.holding(uploadId, claim, async () => {
        const allowance = await this.gate.check({ repository, actor, sizeDelta: reserved, operation: 'upload', held: reserved });
        const quota = await quotaFor(allowance, 0, chunk.length, body, this.reserver(session, claim, actor));
        await this.store.createUpload(uploadId);
        const hash = createHash(digestAlgorithm(digest));
        const size = await this.store.append(uploadId, 0, body, observer(hash, quota)).catch((error: unknown) => {
          throw quota?.exceeded ? quota.refusal : error;
        });
        checkLength(chunk, 0, size);
        const actual = makeDigest(digestAlgorithm(digest), hash.digest('hex'));
        if (actual !== digest) throw new OciError('DIGEST_INVALID', `provided digest ${digest} does not match the uploaded content (${actual})`);
        await this.store.commit(uploadId, digest, size);
        // linked, and the session row gone, together
        await this.index.completeUpload(uploadId, repository, digest, size, this.clock.now(), this.bytesPresent(digest)).catch((error: unknown) => {
          throw error instanceof BlobBeingDeleted ? collected(digest) : error;
        });
        this.events.emit({ type: 'blob.uploaded', repository, digest, size, actor });
        return { digest, size };
      });
    } catch (error) {
      await this.discard(uploadId).catch(() => {});
      throw error;
    }
  }

  async cancel(repository: RepositoryName, uploadId: string): Promise<void> {
    await this.session(repository, uploadId);
    await this.discard(uploadId);
  }

  /** Removes sessions idle for longer than the TTL, store uploads that no session knows, and abandoned writes (sweepIncomplete). */
  async sweepExpired(): Promise<number> {
    const now = this.clock.now();
    const before = now - this.options.ttlMs;
    let removed = 0;
    for (;;) {
      const ids = await this.index.uploadsIdleSince(before, now, 500);
      for (const id of ids) {
        await this.discard(id);
        removed++;
      }
      if (ids.length < 500) break;
    }
    for await (const upload of this.store.listUploads()) {
      if (upload.modifiedAt >= before) continue;
      if (await this.index.getUpload(upload.uploadId)) continue;
      await this.store.abortUpload(upload.uploadId);
      removed++;
    }
    // What interrupted writes left that no listing shows (S3: multipart uploads of a replica
    // killed during an append or a commit). A write runs as long as its request body streams,
    // whatever the TTL: nothing started within the last day is touched.
    if (this.store.sweepIncomplete) removed += await this.store.sweepIncomplete(Math.min(before, now - 24 * 3_600_000));
    return removed;
  }

  /**
   * Asked by the index when a committed blob has no row: a commit keeps bytes stored already, and
   * the collector may have deleted those since (docs/garbage-collection.md).
   */
  private bytesPresent(digest: Digest): () => Promise<boolean> {
    return async () => (await this.store.stat(digest)) !== undefined;
  }

  private async session(repository: RepositoryName, uploadId: string): Promise<UploadRecord> {
    const session = await this.index.getUpload(uploadId);
    if (!session || session.repository !== repository) {
      throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${uploadId.slice(0, 64)} is unknown (finished, cancelled or expired)`);
    }
    return session;
  }

  private async discard(uploadId: string): Promise<void> {
    this.live.delete(uploadId);
    await this.index.deleteUpload(uploadId);
    await this.store.abortUpload(uploadId);
  }

  private get claimMs(): number {
    return this.options.claimMs ?? 60_000;
  }

  /**
   * Runs `work` holding the session's claim, renewed while it runs; the claim ends with the
   * chunk's record, or here on failure. `work` gets the claim's id, which every step under it names.
   * `reserved`: the declared length of the body about to be written, counted against the quota
   * from the moment the claim is taken until the chunk is recorded or the claim released.
   */
  private async claimed<T>(session: UploadRecord, work: (claim: Claim) => Promise<T>, reserved = 0): Promise<T> {
    const claim: Claim = { id: randomUUID(), lost: false };
    // A request that just failed (cut for a slow body, its client gone) releases its claim right
    // after its answer left: a client that retries at once waits for that instead of a 409.
    for (let waited = 0; ; waited += CLAIM_POLL_MS) {
      const now = this.clock.now();
      if (await this.index.claimUpload(session.id, session.size, now, now + this.claimMs, claim.id, reserved)) break;
      // another request holds it, or wrote a chunk since this one read the session
      const current = waited < CLAIM_WAIT_MS ? await this.index.getUpload(session.id) : undefined;
      if (!current || current.size !== session.size) throw new OciError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload', { status: 409 });
      await delay(CLAIM_POLL_MS);
    }
    return this.holding(session.id, claim, work);
  }

  /** Runs `work` under a claim taken already, renewing it while it runs; released on failure. */
  private async holding<T>(uploadId: string, claim: Claim, work: (claim: Claim) => Promise<T>): Promise<T> {
    const claimMs = this.claimMs;
    const renewal = setInterval(() => {
      this.index.renewUploadClaim(uploadId, claim.id, this.clock.now() + claimMs).then(
        (held) => {
          if (!held) claim.lost = true;
        },
        () => {}, // a database hiccup: the next renewal, or the final checks, decide
      );
    }, Math.max(1_000, claimMs / 3));
    renewal.unref();
    try {
      return await work(claim);
    } catch (error) {
      await this.index.releaseUpload(uploadId, claim.id).catch(() => {});
      throw error;
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * How a body streaming into `session` (under `claim`) reserves more room past what it reserved:
   * the new reservation is recorded first, then the gate says what is left counting everyone
   * else's, so that parallel bodies cannot each take the same room. Resolves to the bytes the
   * blob may have in all (Infinity: no limit any more).
   */
  private reserver(session: UploadRecord, claim: Claim, actor: Actor): Reserve {
    return async (reserved, check = true) => {
      await this.index.reserveUpload(session.id, claim.id, reserved);
      if (!check) return NaN;
      const allowance = await this.gate.check({
        repository: session.repository as RepositoryName,
        actor,
        sizeDelta: session.size,
        operation: 'chunk',
        held: session.size + reserved,
      });
      return allowance?.maxBytes ?? Infinity;
    };
  }

  /** Appends a chunk under a claim and returns the session as it now stands. */
  private async appendTo(session: UploadRecord, claim: Claim, body: Readable, chunk: ChunkInfo, release = true): Promise<UploadRecord> {
    const { id: uploadId, size: offset } = session;
    // the storage a plan leaves: a chunk that would take the blob past it is refused, or stopped
    // where it crosses it, and the upload is discarded (it could never complete)
    const held = offset + (chunk.length ?? 0);
    const allowance = await this.gate.check({ repository: session.repository as RepositoryName, actor: {}, sizeDelta: offset, operation: 'chunk', held });
    let quota: Quota | undefined;
    try {
      quota = await quotaFor(allowance, offset, chunk.length, body, this.reserver(session, claim, {}));
    } catch (error) {
      await this.discard(uploadId);
      throw error;
    }
    const hash = await this.hashAt(session);
    this.live.delete(uploadId);
    let size: number;
    try {
      size = await this.store.append(uploadId, offset, body, observer(hash, quota));
    } catch (error) {
      if (quota?.exceeded) {
        await this.discard(uploadId);
        throw quota.refusal;
      }
      if (error instanceof UploadNotFound) throw new OciError('BLOB_UPLOAD_UNKNOWN', 'upload data is gone (expired or cancelled)');
      throw error;
    }
    checkLength(chunk, offset, size);
    const sha256 = hash.copy().digest('hex');
    const now = this.clock.now();
    if (release) {
      if (claim.lost || !(await this.index.advanceUpload(uploadId, claim.id, size, sha256, now))) {
        if (await this.index.getUpload(uploadId)) throw claimLost();
        throw new OciError('BLOB_UPLOAD_UNKNOWN', 'the upload was cancelled or expired while this chunk was written');
      }
      this.remember(uploadId, hash, size);
    }
    return { ...session, size, sha256, updated_at: now };
  }

  /** The running hash of a session: in memory when this process wrote the last chunk, else rebuilt. */
  private async hashAt(session: UploadRecord): Promise<Hash> {
    const live = this.live.get(session.id);
    if (live && live.size === session.size) return live.hash;
    const hash = createHash('sha256');
    if (session.size === 0) return hash;
    if (!this.store.readUpload) {
      throw new OciError('BLOB_UPLOAD_INVALID', 'this upload cannot be resumed here; restart it');
    }
    for await (const bytes of await this.store.readUpload(session.id, session.size)) hash.update(bytes as Buffer);
    if (hash.copy().digest('hex') !== session.sha256) {
      throw new OciError('BLOB_UPLOAD_INVALID', 'the stored upload does not match its session; restart it');
    }
    return hash;
  }

  private async digestOf(session: UploadRecord, algorithm: 'sha256' | 'sha512'): Promise<Digest> {
    if (algorithm === 'sha256') return makeDigest('sha256', session.sha256);
    if (!this.store.readUpload) throw new OciError('DIGEST_INVALID', 'sha512 digests are not supported by this storage');
    const hash = createHash('sha512');
    for await (const bytes of await this.store.readUpload(session.id, session.size)) hash.update(bytes as Buffer);
    return makeDigest('sha512', hash.digest('hex'));
  }

  private remember(uploadId: string, hash: Hash, size: number): void {
    const limit = this.options.liveHashLimit ?? 10_000;
    if (this.live.size >= limit) {
      const oldest = this.live.keys().next().value;
      if (oldest !== undefined) this.live.delete(oldest);
    }
    this.live.set(uploadId, { hash, size });
  }
}

/** How long a request waits for another's claim on its session to be released, and how often it asks. */
const CLAIM_WAIT_MS = 1_000;
const CLAIM_POLL_MS = 50;

interface Claim {
  id: string;
  /** set when a renewal found the claim taken over */
  lost: boolean;
}

/** The upload's bytes were those of a blob the collector was deleting (a commit keeps what is stored): pushing again stores them anew. */
function collected(digest: Digest): OciError {
  return new OciError('BLOB_UPLOAD_UNKNOWN', `blob ${digest} was being garbage-collected while this upload finished; push it again`);
}

function claimLost(): OciError {
  return new OciError('BLOB_UPLOAD_INVALID', 'this request took too long and another one took the upload over; restart the upload', { status: 409 });
}

/** A chunk that does not start where the upload is (out of order, or sent twice) answers 416. */
function checkOrder(session: UploadRecord, chunk: ChunkInfo, body: Readable): void {
  if (chunk.range && chunk.range.start !== session.size) {
    body.resume();
    throw new OciError('RANGE_INVALID', `chunk starts at ${chunk.range.start}, the upload is at ${session.size}`, {
      detail: { size: session.size },
    });
  }
}

/** What the store tells of each piece of a body: the hash takes it, the quota admits it (or holds the body until it may). */
function observer(hash: Hash, quota: Quota | undefined): (bytes: Buffer) => Promise<void> | undefined {
  if (!quota) return (bytes) => void hash.update(bytes);
  return (bytes) => {
    hash.update(bytes);
    return quota.admit(bytes);
  };
}

function requireDigest(value: string | undefined): Digest {
  if (value === undefined || value === '') throw new OciError('DIGEST_INVALID', 'the digest query parameter is required');
  return parseDigest(value);
}

function checkLength(chunk: ChunkInfo, offset: number, size: number): void {
  const received = size - offset;
  if (chunk.length !== undefined && received !== chunk.length) {
    throw new OciError('SIZE_INVALID', `received ${received} bytes, Content-Length said ${chunk.length}`);
  }
  if (chunk.range && chunk.range.end - chunk.range.start + 1 !== received) {
    throw new OciError('SIZE_INVALID', `received ${received} bytes for Content-Range ${chunk.range.start}-${chunk.range.end}`);
  }
}
