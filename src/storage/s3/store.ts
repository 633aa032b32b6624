import { AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { digestAlgorithm, digestHex, type Digest } from '../../oci/digest.js';
import { BlobNotFound, StorageUnavailable, UploadNotFound, assertUploadId, blobDigest, isUploadId, type BlobStore, type ByteRange, type StoredBlob, type StoredUpload } from '../blob-store.js';
import { checkBucket, describeBucketProblem, isBucketProblem } from './check.js';
import { createS3Client, deleteKeys, isNotFound, listMultipartUploads, listObjects } from './client.js';
import { BodyCursor } from './body.js';
import { MAX_PARTS, composeObject } from './compose.js';
import { writeObject } from './multipart-writer.js';
import { MARKER_NAME, piecesOf, planAppend, segmentChain, segmentName, type ListedObject, type Piece, type SegmentChain } from './segments.js';
import type { S3Settings } from '../storage-url.js';

export interface S3StoreTuning {
  /**
   * Bytes of one segment object, at least 5 MiB; default: partSize × MAX_PARTS (8,000 MiB with
   * the default 8 MiB parts), since a multipart upload has at most 1,000 parts on Swift. A longer append
   * writes several segments.
   */
  maxSegmentBytes?: number;
}

/**
 * Blobs in an S3 bucket, at `<prefix>/blobs/<alg>/<2 hex>/<hex>` (the filesystem's layout).
 *
 * An upload is a chain of segment objects, `<prefix>/_uploads/<id>/<offset>` (segments.ts),
 * beside a `.created` marker: each append streams one new object through a multipart upload
 * (nothing is visible unless the whole body arrived; an append longer than a multipart upload
 * can be writes one segment per 1,000 parts), so a failed append adds nothing the session
 * accepted, and the next one at the same offset discards what it left. An append after a segment
 * under 5 MiB rewrites that segment, as its next generation, followed by the new bytes
 * (rereading at most 5 MiB), so every segment but the last can be a multipart part. Memory per append: at most 3 part buffers
 * (multipart-writer.ts), reused across appends; measured, a 1 GiB push peaks at 154 MB RSS with
 * 8 MiB parts. The upload
 * can therefore be read back (another replica rebuilding the hash of a session continues from
 * it), and a commit composes the blob on the server: CopyObject of one segment, or a multipart
 * upload of UploadPartCopy ranges, cut at the verified size.
 *
 * Tested against OpenStack Swift 2.30's s3api (scripts/start-swift.sh), which supports what this
 * uses: multipart uploads (5 MiB minimum part, at most 1,000 parts), UploadPartCopy with ranges,
 * CopyObject (flattening a multipart object, up to 5 GiB), ranged GET, ListObjectsV2,
 * ListMultipartUploads (the sweep of uploads a killed process left), SigV4
 * presigned GETs (the client's Range header passes unsigned). Its DeleteObjects requires
 * Content-MD5, which the SDK does not send: objects are deleted one by one. Swift updates
 * container listings asynchronously when a container server is slow; this driver trusts
 * listings (as AWS S3's are strongly consistent), so a lagging listing makes an append or commit
 * fail with an error rather than store wrong bytes (ranges are cut at what the listing says, and
 * the committed size is checked).
 */
export function createS3Store(settings: S3Settings, client: S3Client = createS3Client(settings), tuning: S3StoreTuning = {}): BlobStore {
  const { bucket, partSize } = settings;
  // a bucket that is gone (or refused credentials, or an endpoint that does not answer) is one
  // typed error with what to fix, whatever the operation: not a stack per request
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isBucketProblem(error)) throw new StorageUnavailable(describeBucketProblem(error, settings), { cause: error });
        throw error;
      }
    },
    { step: 'initialize', name: 'pierStorageUnavailable', override: true },
  );
  const maxSegmentBytes = tuning.maxSegmentBytes ?? partSize * MAX_PARTS;
  const root = settings.prefix ? `${settings.prefix}/` : '';
  const uploadsRoot = `${root}_uploads/`;
  const blobsRoot = `${root}blobs/`;

  const blobKey = (digest: Digest) => {
    const hex = digestHex(digest);
    return `${blobsRoot}${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
  };
  const uploadPrefix = (uploadId: string) => {
    assertUploadId(uploadId);
    return `${uploadsRoot}${uploadId}/`;
  };

  const sizeOf = async (key: string): Promise<number | undefined> => {
    try {
      return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  /** The upload's objects; UploadNotFound when it has none (never created, committed or aborted). */
  const objectsOf = async (uploadId: string): Promise<ListedObject[]> => {
    const prefix = uploadPrefix(uploadId);
    const objects: ListedObject[] = [];
    for await (const object of listObjects(client, bucket, prefix)) {
      objects.push({ name: object.Key.slice(prefix.length), size: object.Size ?? 0 });
    }
    if (objects.length === 0) throw new UploadNotFound(uploadId);
    return objects;
  };
  const chainOf = async (uploadId: string): Promise<SegmentChain> => segmentChain(uploadId, await objectsOf(uploadId));

  /** Streams `body` into `key` (one PUT, or a multipart upload aborted if anything fails). */
  const write = async (key: string, body: Readable) => {
    await writeObject(client, bucket, key, body, { partSize });
  };

  /** Bytes `[offset, offset + length)` of an object, checked to be all there. */
  async function* range(key: string, offset: number, length: number): AsyncGenerator<Buffer> {
    const response = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
    );
    let received = 0;
    for await (const chunk of response.Body as Readable) {
      received += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (received !== length) throw new Error(`${key} ended after ${received} of ${length} bytes`);
  }

  async function* concatenated(prefix: string, pieces: Piece[]): AsyncGenerator<Buffer> {
    for (const piece of pieces) yield* range(prefix + piece.name, piece.offset, piece.length);
  }

  const abortUpload = async (uploadId: string) => {
    const keys: string[] = [];
    for await (const object of listObjects(client, bucket, uploadPrefix(uploadId))) keys.push(object.Key);
    // segments last first, the marker last of all: an abort cut short leaves a listed upload
    await deleteKeys(client, bucket, keys.reverse());
  };

  const presign = async (digest: Digest) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: blobKey(digest) }), { expiresIn: settings.presignTtlSeconds });

  return {
    stat: (digest) => sizeOf(blobKey(digest)),

    async read(digest: Digest, range?: ByteRange) {
      try {
        const response = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: blobKey(digest), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
        );
        return response.Body as Readable;
      } catch (error) {
        if (isNotFound(error)) throw new BlobNotFound(digest);
        throw error;
      }
    },

    async delete(digest) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: blobKey(digest) }));
    },

    ...(settings.redirect ? { redirectUrl: presign } : {}),

    async createUpload(uploadId) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: uploadPrefix(uploadId) + MARKER_NAME, Body: Buffer.alloc(0) }));
    },

    async append(uploadId, offset, body, observe) {
      const prefix = uploadPrefix(uploadId);
      const plan = planAppend(uploadId, await chainOf(uploadId), offset);
      // bytes past the offset were never accepted: removed last first, so the chain stays whole
      await deleteKeys(client, bucket, plan.remove.map((name) => prefix + name), 1);
      const cursor = new BodyCursor(body, observe);
      try {
        // nothing to write: the upload stays as the plan left it
        if (!(await cursor.more())) return offset;
        // One segment per `maxSegmentBytes`: a multipart upload has at most MAX_PARTS parts.
        const merge = plan.merge;
        let key = prefix + plan.target;
        for (let first = true; ; first = false) {
          const [target, keep] = [key, first && merge ? merge.keep : 0];
          const run = async function* () {
            if (keep > 0) yield* range(prefix + merge!.replaces, 0, keep);
            yield* cursor.take(maxSegmentBytes - keep);
          };
          await write(target, Readable.from(run(), { objectMode: false }));
          // the rewritten generation goes (a failed delete leaves garbage the next append removes)
          if (keep > 0) await deleteKeys(client, bucket, [prefix + merge!.replaces]).catch(() => {});
          if (!(await cursor.more())) return offset + cursor.received;
          key = prefix + segmentName(offset + cursor.received);
        }
      } finally {
        await cursor.release(); // a write that failed stops reading (and releases) the body
      }
    },

    /*
     * The blob is composed straight onto its content-addressed key, its size checked after, and a
     * wrong size deleted: no temporary object copied a second time (on Swift, which really
     * copies, that would add 1.4-2.8 s per 256 MiB to every commit). This is safe because:
     * - a compose that fails leaves nothing at the key: CopyObject and CompleteMultipartUpload
     *   (the copy parts, or the streamed fallback) make the object appear whole or not at all; a
     *   process killed half-way leaves only an incomplete multipart upload, invisible, which
     *   sweepIncomplete aborts;
     * - a wrong size can only come from a listing that lagged behind a segment rewritten under
     *   the same name (CopyObject of a "whole" segment then copies the object as it is now;
     *   ranged part copies and the streamed fallback fail on a short source and cannot read past
     *   their range), and it is deleted before commit returns, so before the index links the
     *   digest: no client is told about it. Only a digest the index already holds while its
     *   object is absent or wrong (broken before this commit) can be read in between.
     * What this does not cover: a concurrent commit of the same digest whose correct object lands
     * between the size check and the delete of a wrong one is deleted with it (Swift's s3api has
     * no delete conditional on an ETag); the next push of that blob stores it again.
     */
    async commit(uploadId, digest, size) {
      const prefix = uploadPrefix(uploadId);
      const pieces = piecesOf(await chainOf(uploadId), size);
      const key = blobKey(digest);
      const existing = await sizeOf(key);
      // an existing blob of the right size is kept (same digest, same bytes); one of another size
      // lies about its content and is replaced, deleted first: overwriting an object on Swift's
      // s3api leaks the parts of the multipart upload that wrote it (segments.ts)
      if (existing !== size) {
        if (existing !== undefined) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        const ranges = pieces.map((p) => ({ key: prefix + p.name, offset: p.offset, length: p.length, whole: p.whole }));
        if (!(await composeObject(client, bucket, key, ranges))) {
          await write(key, Readable.from(concatenated(prefix, pieces), { objectMode: false }));
        }
        const stored = await sizeOf(key);
        if (stored !== size) {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
          throw new Error(`committing upload ${uploadId} stored ${stored ?? 'no'} bytes under ${digest}, not ${size}`);
        }
      }
      await abortUpload(uploadId);
    },

    abortUpload,

    async *listUploads(): AsyncIterable<StoredUpload> {
      let current: StoredUpload | undefined;
      for await (const object of listObjects(client, bucket, uploadsRoot)) {
        const uploadId = object.Key.slice(uploadsRoot.length).split('/')[0]!;
        const modifiedAt = object.LastModified?.getTime() ?? 0;
        if (current?.uploadId === uploadId) {
          current.modifiedAt = Math.max(current.modifiedAt, modifiedAt);
          continue;
        }
        if (current) yield current;
        current = isUploadId(uploadId) ? { uploadId, modifiedAt } : undefined;
      }
      if (current) yield current;
    },

    /** ListObjectsV2 under `blobs/`, a page (1,000 keys) at a time. */
    async *listBlobs(): AsyncIterable<StoredBlob> {
      for await (const object of listObjects(client, bucket, blobsRoot)) {
        const [algorithm, fanout, name, ...more] = object.Key.slice(blobsRoot.length).split('/');
        const digest = more.length === 0 && algorithm && fanout && name ? blobDigest(algorithm, fanout, name) : undefined;
        if (digest) yield { digest, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 };
      }
    },

    /**
     * Aborts the multipart uploads under the store's own prefixes (`_uploads/`: segment appends;
     * `blobs/`: commits) that started before `olderThan`: a replica killed during an append or a
     * commit leaves one, which no listing of objects shows, and its parts take space (and are
     * billed) until it is aborted. `Initiated` is the server's clock.
     */
    async sweepIncomplete(olderThan) {
      let aborted = 0;
      for (const prefix of [uploadsRoot, blobsRoot]) {
        for await (const upload of listMultipartUploads(client, bucket, prefix)) {
          const initiated = upload.Initiated?.getTime();
          if (initiated === undefined || !(initiated < olderThan)) continue;
          try {
            await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
            aborted++;
          } catch (error) {
            // completed or aborted meanwhile
            if (!isNotFound(error) && (error as Error).name !== 'NoSuchUpload') throw error;
          }
        }
      }
      return aborted;
    },

    async readUpload(uploadId, length) {
      const prefix = uploadPrefix(uploadId);
      const pieces = piecesOf(await chainOf(uploadId), length);
      return Readable.from(concatenated(prefix, pieces), { objectMode: false });
    },

    check: () => checkBucket(client, settings),

    async close() {
      client.destroy();
    },
  };
}
