/**
 * PIER_STORAGE_URL: which BlobStore driver, and its settings, in one string.
 *
 *   (unset)                                  the filesystem under `<data>/storage`
 *   file:///var/lib/pier/storage             the filesystem at that path
 *   s3://bucket/prefix?endpoint=http://127.0.0.1:8080&region=us-east-1&forcePathStyle=true
 *
 * S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the SDK's usual chain),
 * never from the URL, so the URL can be logged.
 * TODO(s3 helper): the s3 query parameters (partSize, redirect, ...) are parsed here.
 */
export type StorageLocation = { kind: 'file'; root: string } | { kind: 's3'; bucket: string; prefix: string; params: URLSearchParams };

export function parseStorageUrl(value: string): StorageLocation {
  const problem = storageUrlProblem(value);
  if (problem) throw new Error(problem);
  const url = new URL(value);
  if (url.protocol === 'file:') return { kind: 'file', root: decodeURIComponent(url.pathname) };
  return { kind: 's3', bucket: url.hostname, prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ''), params: url.searchParams };
}

/** Why `value` is not a storage URL, or undefined when it is one. */
export function storageUrlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'expected file:///path or s3://bucket/prefix?endpoint=…&region=… (unset: the data directory)';
  const url = new URL(value);
  if (url.protocol === 'file:') return url.pathname.length > 1 ? undefined : 'a file: storage URL needs an absolute path';
  if (url.protocol !== 's3:') return `unsupported storage scheme ${url.protocol} (file: or s3:)`;
  if (!url.hostname) return 'an s3: storage URL names its bucket: s3://bucket/prefix';
  if (url.username || url.password) return 'put S3 credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL';
  return undefined;
}
