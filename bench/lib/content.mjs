// Blob content: a 1 MiB random block repeated, then a unique 32-byte trailer.
// The sha256 of the repeated part is computed once per length and copied, so every upload has a
// distinct digest (no server can take a dedup shortcut) while the client hashes almost nothing.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';

export const MiB = 1024 * 1024;
export const MB = 1e6;

const BLOCK = randomBytes(MiB);
const prefixHashes = new Map();

export function prefixHash(length) {
  let hash = prefixHashes.get(length);
  if (!hash) {
    hash = createHash('sha256');
    let left = length;
    while (left > 0) {
      const n = Math.min(left, BLOCK.length);
      hash.update(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n));
      left -= n;
    }
    prefixHashes.set(length, hash);
  }
  return hash;
}

export class Content {
  constructor(size) {
    if (size < 64) throw new Error('blob too small');
    this.size = size;
    this.prefix = size - 32;
    this.trailer = randomBytes(32);
    this.digest = `sha256:${prefixHash(this.prefix).copy().update(this.trailer).digest('hex')}`;
  }

  /** Buffers that cover [start, end): views of the block (no copies), then the trailer. */
  *slices(start, end) {
    let at = start;
    while (at < end && at < this.prefix) {
      const offset = at % BLOCK.length;
      const n = Math.min(BLOCK.length - offset, end - at, this.prefix - at);
      yield BLOCK.subarray(offset, offset + n);
      at += n;
    }
    if (at < end) yield this.trailer.subarray(at - this.prefix, end - this.prefix);
  }

  /** Writes [start, end) into a request and ends it; may be called again (a retried request). */
  writer(start, end) {
    return async (req) => {
      for (const slice of this.slices(start, end)) {
        if (!req.write(slice)) await once(req, 'drain');
      }
      req.end();
    };
  }
}

/**
 * A small blob of `size` bytes, held whole: a slice of the block at a random offset and 32 random
 * bytes (distinct digests, hashed by the client in full: small blobs cost it little).
 */
export function smallBlob(size) {
  const head = Math.max(0, size - 32);
  const offset = Math.floor(Math.random() * (BLOCK.length - head));
  return blobOf(Buffer.concat([BLOCK.subarray(offset, offset + head), randomBytes(size - head)]));
}

/** A blob held whole: the buffer, its digest and size (what pushMonolithic takes). */
export function blobOf(buffer) {
  return { buffer, digest: `sha256:${createHash('sha256').update(buffer).digest('hex')}`, size: buffer.length };
}

/** A deterministic generator of numbers in [0, 1) from a seed (mulberry32). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
