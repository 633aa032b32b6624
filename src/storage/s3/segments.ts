/**
 * How an unfinished upload lies in an object store that cannot append: a sequence of immutable
 * segment objects `_uploads/<id>/<offset>[.<generation>]`, each holding the upload's bytes from
 * `offset` on (16 decimal digits, zero-padded, so that key order is offset order).
 *
 * A segment covers its bytes up to where the next segment starts: an append that failed after
 * its segment was stored (the caller rejected the chunk, or died before recording it) may leave
 * a segment longer than what the session accepted, and the next append at the accepted offset
 * starts a segment there (or rewrites the last one), so the later key wins. Every segment but
 * the last covers at least 5 MiB, the minimum size of a multipart part, so a commit can compose
 * the blob from the segments by server-side copies.
 *
 * A segment is rewritten (merged with the bytes after it) under a new name, the next
 * generation, and the old one deleted after: an object is never overwritten. Overwriting would
 * be atomic too, but Swift's s3api then leaks the parts of the multipart upload that wrote the
 * old object (a DELETE removes them). When two generations of an offset are listed (the delete
 * failed), the higher one counts and the other is removed by the next append.
 */

/** S3's minimum size of a multipart part (all but the last). */
export const MIN_SEGMENT_BYTES = 5 * 1024 * 1024;

const SEGMENT_NAME = /^(\d{16})(?:\.(\d{1,15}))?$/;
/** The object createUpload writes, so that an upload without bytes exists and is listed. */
export const MARKER_NAME = '.created';

export function segmentName(offset: number, generation = 0): string {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= 1e16) throw new RangeError(`segment offset out of range: ${offset}`);
  const name = String(offset).padStart(16, '0');
  return generation === 0 ? name : `${name}.${generation}`;
}

export interface ListedObject {
  /** the name under the upload's prefix (`0000000000000000`, `.created`) */
  name: string;
  size: number;
}

export interface Segment {
  name: string;
  /** the upload offset of its first byte */
  start: number;
  /** how many times the segment at this offset was rewritten */
  generation: number;
  /** the object's size (it may reach past the next segment's start) */
  size: number;
  /** how many of its bytes count: up to the next segment, or all of it for the last */
  length: number;
}

export interface SegmentChain {
  segments: Segment[];
  /** how many bytes the upload holds */
  size: number;
  /** older generations of a segment, left by a rewrite whose delete failed: garbage */
  superseded: string[];
}

/**
 * The chain of an upload's objects (any order; names that are not segments are ignored).
 * Rejects what the driver never writes: a chain that does not start at 0, or a gap between two
 * segments; the upload cannot be continued then, only restarted.
 */
export function segmentChain(uploadId: string, objects: Iterable<ListedObject>): SegmentChain {
  const newest = new Map<number, { name: string; start: number; generation: number; size: number }>();
  const superseded: string[] = [];
  for (const { name, size } of objects) {
    const match = SEGMENT_NAME.exec(name);
    if (!match) continue;
    const found = { name, start: Number(match[1]), generation: Number(match[2] ?? 0), size };
    const other = newest.get(found.start);
    if (other && other.generation > found.generation) {
      superseded.push(found.name);
      continue;
    }
    if (other) superseded.push(other.name);
    newest.set(found.start, found);
  }
  const found = [...newest.values()].sort((a, b) => a.start - b.start);
  const segments: Segment[] = [];
  for (let i = 0; i < found.length; i++) {
    const { start, size } = found[i]!;
    const next = found[i + 1];
    if (i === 0 && start !== 0) throw new Error(`upload ${uploadId} is inconsistent: its first segment starts at ${start}, not 0`);
    const length = next ? next.start - start : size;
    if (length > size) {
      throw new Error(`upload ${uploadId} is inconsistent: the segment at ${start} holds ${size} bytes, the next starts at ${next!.start}`);
    }
    segments.push({ ...found[i]!, length });
  }
  const last = segments.at(-1);
  return { segments, size: last ? last.start + last.length : 0, superseded };
}

/** A byte range of one segment object. */
export interface Piece {
  name: string;
  /** offset inside the segment object */
  offset: number;
  length: number;
  /** the piece is the whole object */
  whole: boolean;
}

/** The pieces that make the first `size` bytes of the upload, in order (none for 0 bytes). */
export function piecesOf(chain: SegmentChain, size: number): Piece[] {
  if (size > chain.size) throw new Error(`the upload holds ${chain.size} bytes, fewer than ${size}`);
  const pieces: Piece[] = [];
  for (const segment of chain.segments) {
    if (segment.start >= size) break;
    const length = Math.min(segment.length, size - segment.start);
    if (length > 0) pieces.push({ name: segment.name, offset: 0, length, whole: length === segment.size });
  }
  return pieces;
}

/** What an append at `offset` does with the existing segments. */
export interface AppendPlan {
  /**
   * Objects to remove first: segments at or past the offset (bytes the session never accepted,
   * last first, so that the chain stays whole), then superseded generations.
   */
  remove: string[];
  /**
   * When the bytes before the offset end in a segment shorter than a part: its first `keep`
   * bytes followed by the new bytes go to its next generation (`target`), and the segment
   * (`replaces`) is deleted once that is written. Otherwise the new bytes go to a new segment at
   * the offset.
   */
  merge?: { replaces: string; keep: number };
  /** the object the new bytes are written to */
  target: string;
}

export function planAppend(uploadId: string, chain: SegmentChain, offset: number): AppendPlan {
  if (chain.size < offset) throw new Error(`upload ${uploadId} holds ${chain.size} bytes, fewer than offset ${offset}`);
  const remove = [
    ...chain.segments
      .filter((s) => s.start >= offset)
      .reverse()
      .map((s) => s.name),
    ...chain.superseded,
  ];
  const tail = chain.segments.filter((s) => s.start < offset).at(-1);
  if (tail && offset - tail.start < MIN_SEGMENT_BYTES) {
    return { remove, merge: { replaces: tail.name, keep: offset - tail.start }, target: segmentName(tail.start, tail.generation + 1) };
  }
  return { remove, target: segmentName(offset) };
}
