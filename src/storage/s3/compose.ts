import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { copySource } from './client.js';
import { MIN_SEGMENT_BYTES } from './segments.js';

/** The largest object CopyObject copies, and the largest part UploadPartCopy copies. */
export const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
/**
 * Parts of a multipart upload: AWS allows 10,000, Swift's s3api 1,000 by default
 * (max_upload_part_num); the lower bound keeps one code path for both.
 */
export const MAX_PARTS = 1000;

export interface CopyRange {
  key: string;
  /** first byte in the source object */
  offset: number;
  length: number;
  /** the range is the whole source object */
  whole: boolean;
}

/**
 * The multipart parts that copy `ranges` in order: a range longer than a copy allows is split in
 * equal parts; undefined when the ranges cannot be parts (a part but the last under 5 MiB, or too
 * many), and the caller copies by streaming instead.
 */
export function planCopyParts(ranges: CopyRange[]): CopyRange[] | undefined {
  const parts: CopyRange[] = [];
  for (const range of ranges) {
    if (range.length === 0) continue;
    const count = Math.ceil(range.length / MAX_COPY_BYTES);
    const size = Math.ceil(range.length / count);
    for (let offset = 0; offset < range.length; offset += size) {
      parts.push({ key: range.key, offset: range.offset + offset, length: Math.min(size, range.length - offset), whole: false });
    }
  }
  if (parts.length > MAX_PARTS) return undefined;
  if (parts.slice(0, -1).some((p) => p.length < MIN_SEGMENT_BYTES)) return undefined;
  return parts;
}

/**
 * Writes the concatenation of `ranges` to `key` on the server side: nothing but an empty PUT for
 * no bytes, CopyObject for one whole object of at most 5 GiB, else a multipart upload of
 * UploadPartCopy parts, aborted on failure (the key is never left half-written; a process killed
 * half-way leaves the multipart upload to the store's sweepIncomplete). Resolves to
 * false, having written nothing, when the ranges cannot be composed (see planCopyParts).
 */
export async function composeObject(client: S3Client, bucket: string, key: string, ranges: CopyRange[]): Promise<boolean> {
  const nonEmpty = ranges.filter((r) => r.length > 0);
  if (nonEmpty.length === 0) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(0) }));
    return true;
  }
  const only = nonEmpty.length === 1 ? nonEmpty[0]! : undefined;
  if (only && only.whole && only.length <= MAX_COPY_BYTES) {
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: copySource(bucket, only.key) }));
    return true;
  }
  const parts = planCopyParts(nonEmpty);
  if (!parts) return false;
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  try {
    const etags = await copyParts(client, bucket, key, UploadId!, parts);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    return true;
  } catch (error) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw error;
  }
}

/**
 * Copies the parts, four at a time; resolves to their ETags in part order. After a failure no
 * part starts, and it rejects only once the parts in flight ended, so an abort that follows is final.
 */
async function copyParts(client: S3Client, bucket: string, key: string, uploadId: string, parts: CopyRange[]): Promise<string[]> {
  const etags: string[] = new Array(parts.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < parts.length && !failed) {
      const index = next++;
      const part = parts[index]!;
      const result = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: index + 1,
          CopySource: copySource(bucket, part.key),
          CopySourceRange: `bytes=${part.offset}-${part.offset + part.length - 1}`,
        }),
      );
      const etag = result.CopyPartResult?.ETag;
      if (!etag) throw new Error(`UploadPartCopy of part ${index + 1} of ${key} returned no ETag`);
      etags[index] = etag;
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(4, parts.length) }, () =>
      worker().catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return etags;
}
