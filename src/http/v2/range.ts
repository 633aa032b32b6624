import { OciError } from '../../oci/errors.js';
import type { ByteRange } from '../../storage/blob-store.js';

/**
 * A blob GET's `Range: bytes=a-b | a- | -n`, resolved against the blob size. Other units and
 * multiple ranges are ignored (the whole blob is served, as RFC 9110 allows); a range that cannot
 * be satisfied answers 416 with `Content-Range: bytes * /size`.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (!value.toLowerCase().startsWith('bytes=') || value.includes(',')) return undefined;
  const match = /^(\d*)-(\d*)$/.exec(value.slice(6).trim());
  const unsatisfiable = () =>
    new OciError('RANGE_INVALID', `range ${value} cannot be satisfied for ${size} bytes`, {
      headers: { 'content-range': `bytes */${size}` },
    });
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable();
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (start >= size || end < start) throw unsatisfiable();
  }
  return { start, end };
}

/** A PATCH's `Content-Range: a-b` (some clients write `bytes a-b` or `bytes=a-b`). */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) throw new OciError('RANGE_INVALID', `invalid Content-Range "${header.slice(0, 80)}"`);
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) throw new OciError('RANGE_INVALID', `invalid Content-Range "${header.slice(0, 80)}"`);
  return { start, end };
}

export function parseContentLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (!/^\d+$/.test(header)) throw new OciError('SIZE_INVALID', 'invalid Content-Length');
  return Number(header);
}
