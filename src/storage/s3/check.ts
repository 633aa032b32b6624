import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { httpStatusOf } from './client.js';
import type { S3Settings } from '../storage-url.js';

/** Throws an Error that says what is wrong when the bucket cannot be used (for /readyz, `pier check`). */
export async function checkBucket(client: S3Client, settings: S3Settings): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: settings.bucket }));
  } catch (error) {
    // already described when it went through the store's client
    if ((error as Error).name === 'StorageUnavailable') throw error;
    throw new Error(describeBucketProblem(error, settings), { cause: error });
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether a failed S3 request says the whole store is unusable (the bucket is gone, the
 * credentials are refused, the endpoint does not answer) rather than something about one object.
 */
export function isBucketProblem(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  const status = httpStatusOf(error);
  if (name === 'NoSuchBucket' || name === 'CredentialsProviderError') return true;
  if (status === 401 || status === 403) return true;
  return status === undefined && code !== undefined && UNREACHABLE.has(code);
}

export function describeBucketProblem(error: unknown, settings: S3Settings): string {
  const where = `S3 bucket "${settings.bucket}" at ${settings.endpoint ?? `AWS ${settings.region}`}`;
  const { name, message, code } = (error ?? {}) as { name?: string; message?: string; code?: string };
  const status = httpStatusOf(error);
  if (name === 'CredentialsProviderError') {
    return `${where}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): ${message}`;
  }
  if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') return `${where} does not exist (create it first)`;
  if (status === 401 || status === 403) {
    return `${where}: access denied (HTTP ${status}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's permissions`;
  }
  if (status === 301 || name === 'PermanentRedirect') return `${where}: the bucket is in another region (set ?region=)`;
  if (status === undefined) {
    return `${where} is unreachable: ${code ?? name ?? 'error'}${message && message !== code ? `: ${message}` : ''} (start it, or fix the endpoint of storage.url, PIER_STORAGE_URL)`;
  }
  return `${where} answered HTTP ${status} (${name ?? 'error'}${message ? `: ${message}` : ''})`;
}
