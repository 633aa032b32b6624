import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { BlobNotFound, UploadNotFound, assertUploadId, type BlobStore, type StoredBlob, type StoredUpload } from './blob-store.js';

/** For tests and throwaway registries: everything in process memory. */
export function createMemoryStore(clock: () => number = Date.now): BlobStore {
  const blobs = new Map<string, Buffer>();
  const committedAt = new Map<string, number>();
  const uploads = new Map<string, { chunks: Buffer[]; size: number; modifiedAt: number }>();
  const upload = (uploadId: string) => {
    assertUploadId(uploadId);
    const found = uploads.get(uploadId);
    if (!found) throw new UploadNotFound(uploadId);
    return found;
  };

  return {
    async stat(digest) {
      return blobs.get(digest)?.length;
    },
    async read(digest, range) {
      const bytes = blobs.get(digest);
      if (!bytes) throw new BlobNotFound(digest);
      return Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]);
    },
    async delete(digest) {
      blobs.delete(digest);
      committedAt.delete(digest);
    },
    async createUpload(uploadId) {
      assertUploadId(uploadId);
      uploads.set(uploadId, { chunks: [], size: 0, modifiedAt: clock() });
    },
    async append(uploadId, offset, body, observe) {
      const target = upload(uploadId);
      if (target.size < offset) throw new Error(`upload ${uploadId} holds ${target.size} bytes, fewer than offset ${offset}`);
      if (target.size > offset) {
        const kept = Buffer.concat(target.chunks).subarray(0, offset);
        target.chunks = [kept];
        target.size = offset;
      }
      // Appended chunk by chunk, so an interrupted body leaves what arrived, like a file would.
      for await (const chunk of body) {
        await observe?.(chunk as Buffer);
        target.chunks.push(Buffer.from(chunk as Buffer));
        target.size += (chunk as Buffer).length;
      }
      target.modifiedAt = clock();
      return target.size;
    },
    async commit(uploadId: string, digest: Digest, size: number) {
      const target = upload(uploadId);
      if (target.size < size) throw new Error(`upload ${uploadId} holds fewer than ${size} bytes`);
      if (!blobs.has(digest)) {
        blobs.set(digest, Buffer.concat(target.chunks).subarray(0, size));
        committedAt.set(digest, clock());
      }
      uploads.delete(uploadId);
    },
    async abortUpload(uploadId) {
      uploads.delete(uploadId);
    },
    async *listUploads(): AsyncIterable<StoredUpload> {
      for (const [uploadId, u] of uploads) yield { uploadId, modifiedAt: u.modifiedAt };
    },
    async *listBlobs(): AsyncIterable<StoredBlob> {
      for (const [digest, bytes] of blobs) yield { digest: digest as Digest, size: bytes.length, modifiedAt: committedAt.get(digest) ?? 0 };
    },
    async readUpload(uploadId, length) {
      return Readable.from([Buffer.concat(upload(uploadId).chunks).subarray(0, length)]);
    },
    async check() {
      // process memory is always there
    },
  };
}
