import { DeleteObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client, type MultipartUpload, type _Object } from '@aws-sdk/client-s3';
import type { S3Settings } from '../storage-url.js';

/**
 * The S3 client of a store. Checksums only WHEN_REQUIRED: the SDK's default (a CRC32 of every
 * byte, computed in JavaScript, sent as a header or an aws-chunked trailer) costs throughput,
 * and servers such as Swift's s3api ignore or refuse it. Integrity is the digest Pier verifies.
 * Credentials: the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, ...).
 */
export function createS3Client(settings: Pick<S3Settings, 'endpoint' | 'region' | 'forcePathStyle'>): S3Client {
  // The pinned SDK runs on Node 20 (Pier's target); its warning is about releases after 2027-01.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: 5_000,
      // blob reads are streamed to clients: many at once, each possibly paused by a slow reader
      httpAgent: { keepAlive: true, maxSockets: 256 },
      httpsAgent: { keepAlive: true, maxSockets: 256 },
    },
  });
}

interface ServiceError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatusOf(error: unknown): number | undefined {
  return (error as ServiceError | undefined)?.$metadata?.httpStatusCode;
}

/** NoSuchKey, NotFound (HEAD has no body to name the error) or a bare 404. */
export function isNotFound(error: unknown): boolean {
  const name = (error as ServiceError | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatusOf(error) === 404;
}

/** Every object under `prefix`, in key order. */
export async function* listObjects(client: S3Client, bucket: string, prefix: string): AsyncIterable<_Object & { Key: string }> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object as _Object & { Key: string };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Every multipart upload in progress (neither completed nor aborted) under `prefix`, in key order. */
export async function* listMultipartUploads(
  client: S3Client,
  bucket: string,
  prefix: string,
): AsyncIterable<MultipartUpload & { Key: string; UploadId: string }> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    for (const upload of page.Uploads ?? []) {
      if (upload.Key !== undefined && upload.UploadId !== undefined) yield upload as MultipartUpload & { Key: string; UploadId: string };
    }
    if (!page.IsTruncated || (page.NextKeyMarker === keyMarker && page.NextUploadIdMarker === uploadIdMarker)) return;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/**
 * Deletes keys, `parallel` at a time, in the order given as far as that goes. One request per
 * key rather than DeleteObjects: Swift's s3api insists on a Content-MD5 header there, which the
 * SDK no longer sends, and uploads have few objects.
 */
export async function deleteKeys(client: S3Client, bucket: string, keys: Iterable<string>, parallel = 8): Promise<void> {
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
}

/** `bucket/key` as x-amz-copy-source wants it: each path segment URL-encoded. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
