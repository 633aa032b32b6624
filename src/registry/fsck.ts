import { createHash } from 'node:crypto';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import type { BlobKey } from '../metadata/gc-index.js';
import { BlobNotFound, type BlobStore, type StoredBlob } from '../storage/blob-store.js';

/** What fsck reads of the index: the blobs it knows, a page at a time, and whether one still is. */
export interface FsckIndex {
  liveBlobs(after: string, limit: number): Promise<BlobKey[]>;
  isLiveBlob(digest: string): Promise<boolean>;
}

/** What the search for orphans asks of the index (GcIndex), and what its repair changes. */
export interface OrphanIndex {
  knownBlobs(digests: readonly string[]): Promise<Set<string>>;
  adoptOrphan(blob: BlobKey, now: number): Promise<boolean>;
  forgetDeleted(digests: string[]): Promise<void>;
}

export interface FsckProblem {
  digest: string;
  problem: 'missing' | 'size' | 'digest';
  /** what the index says */
  expected: number | string;
  /** what storage holds (a size, or a digest with --verify) */
  found?: number | string;
}

export interface FsckReport {
  /** blobs checked, and their bytes as the index knows them */
  blobs: number;
  bytes: number;
  verified: boolean;
  /** counts by kind (every problem, whatever `problems` kept) */
  missing: number;
  wrongSize: number;
  corrupt: number;
  /** the first problems found (at most `keep`) */
  problems: FsckProblem[];
}

export interface FsckOptions {
  /** also read every blob and compare its digest */
  verify?: boolean;
  /** how many problems the report lists (default 100) */
  keep?: number;
  onProgress?: (checked: number) => void;
  /** stops between blobs */
  signal?: AbortSignal;
}

const PAGE = 500;

/**
 * Checks that every blob the index knows is in storage with its size (and, with `verify`, its
 * digest), a page of the index at a time (memory stays flat). A blob whose bytes are missing is
 * asked again of the index: garbage collection may have deleted it meanwhile, which is no problem.
 * Read-only: it repairs nothing (a missing blob is pushed again by the next client that has it).
 */
export async function checkBlobs(index: FsckIndex, store: BlobStore, options: FsckOptions = {}): Promise<FsckReport> {
  const keep = options.keep ?? 100;
  const report: FsckReport = { blobs: 0, bytes: 0, verified: options.verify === true, missing: 0, wrongSize: 0, corrupt: 0, problems: [] };
  const note = (problem: FsckProblem) => {
    if (report.problems.length < keep) report.problems.push(problem);
  };
  let after = '';
  for (;;) {
    const page = await index.liveBlobs(after, PAGE);
    if (page.length === 0) break;
    for (const blob of page) {
      options.signal?.throwIfAborted();
      const digest = blob.digest as Digest;
      const size = await store.stat(digest);
      if (size === undefined) {
        if (await index.isLiveBlob(digest)) {
          report.missing++;
          note({ digest, problem: 'missing', expected: blob.size });
        }
      } else if (size !== blob.size) {
        report.wrongSize++;
        note({ digest, problem: 'size', expected: blob.size, found: size });
      } else if (options.verify) {
        const found = await hashOf(store, digest);
        if (found !== undefined && found !== digestHex(digest)) {
          report.corrupt++;
          note({ digest, problem: 'digest', expected: digest, found: `${digestAlgorithm(digest)}:${found}` });
        }
      }
      report.blobs++;
      report.bytes += blob.size;
      options.onProgress?.(report.blobs);
    }
    after = page[page.length - 1]!.digest;
  }
  return report;
}

/** The hex digest of a stored blob's bytes (undefined: deleted while it was read). */
async function hashOf(store: BlobStore, digest: Digest): Promise<string | undefined> {
  const hash = createHash(digestAlgorithm(digest));
  try {
    for await (const chunk of await store.read(digest)) hash.update(chunk as Buffer);
  } catch (error) {
    if (error instanceof BlobNotFound) return undefined;
    throw error;
  }
  return hash.digest('hex');
}

export interface Orphan {
  digest: string;
  size: number;
  modifiedAt: number;
  /** deleted by the repair */
  removed: boolean;
}

export interface OrphanReport {
  /** blobs the store listed */
  scanned: number;
  /** of those, the ones no index row knows, and their bytes */
  orphans: number;
  bytes: number;
  /** orphans written after the cutoff: maybe an upload being committed right now; never removed */
  recent: number;
  /** whether the repair ran, and what it removed */
  repaired: boolean;
  removed: number;
  removedBytes: number;
  /** the first orphans found (at most `keep`) */
  listed: Orphan[];
}

export interface OrphanOptions {
  /** orphans written before it (epoch ms: now minus the grace period) may be removed */
  cutoff: number;
  /** remove the orphans written before `cutoff` */
  repair?: { now: number };
  /** how many orphans the report lists (default 100) */
  keep?: number;
  onProgress?: (scanned: number, orphans: number) => void;
  signal?: AbortSignal;
}

/**
 * Bytes in storage that no index row knows (`blobs` has no row for their digest): what a process
 * killed between storing a blob and indexing it, or a restored database older than its storage,
 * leaves behind. The store's listing is read a page at a time and asked of the index in batches
 * (memory stays flat); undefined when the store cannot list its blobs.
 *
 * With `repair`, an orphan written before `cutoff` is adopted into the collector's protocol
 * (a row marked for deletion, inserted only if no row exists: GcIndex.adoptOrphan), then its
 * bytes are deleted and the row forgotten. An orphan that a link was made to meanwhile has a row,
 * is not adopted and stays; a link attempted after the adoption is refused, and its client pushes
 * the blob again (docs/garbage-collection.md, "pier fsck").
 */
export async function findOrphans(index: OrphanIndex, store: BlobStore, options: OrphanOptions): Promise<OrphanReport | undefined> {
  if (!store.listBlobs) return undefined;
  const keep = options.keep ?? 100;
  const report: OrphanReport = { scanned: 0, orphans: 0, bytes: 0, recent: 0, repaired: options.repair !== undefined, removed: 0, removedBytes: 0, listed: [] };
  let batch: StoredBlob[] = [];
  const settle = async () => {
    const known = await index.knownBlobs(batch.map((b) => b.digest));
    for (const blob of batch) {
      if (known.has(blob.digest)) continue;
      options.signal?.throwIfAborted();
      report.orphans++;
      report.bytes += blob.size;
      let removed = false;
      if (blob.modifiedAt >= options.cutoff) {
        report.recent++;
      } else if (options.repair && (await index.adoptOrphan({ digest: blob.digest, size: blob.size }, options.repair.now))) {
        await store.delete(blob.digest);
        await index.forgetDeleted([blob.digest]);
        removed = true;
        report.removed++;
        report.removedBytes += blob.size;
      }
      if (report.listed.length < keep) report.listed.push({ digest: blob.digest, size: blob.size, modifiedAt: blob.modifiedAt, removed });
    }
    batch = [];
  };
  for await (const blob of store.listBlobs()) {
    options.signal?.throwIfAborted();
    batch.push(blob);
    report.scanned++;
    options.onProgress?.(report.scanned, report.orphans);
    if (batch.length >= PAGE) await settle();
  }
  await settle();
  return report;
}
