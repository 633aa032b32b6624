import { createHash } from 'node:crypto';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import type { BlobKey } from '../metadata/gc-index.js';
import { BlobNotFound, type BlobStore } from '../storage/blob-store.js';

/** What fsck reads of the index: the blobs it knows, a page at a time, and whether one still is. */
export interface FsckIndex {
  liveBlobs(after: string, limit: number): Promise<BlobKey[]>;
  isLiveBlob(digest: string): Promise<boolean>;
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
