import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { createS3Client, deleteKeys, listObjects } from '../../src/storage/s3/client.js';
import { createS3Store } from '../../src/storage/s3/store.js';
import { parseStorageUrl, type S3Settings } from '../../src/storage/storage-url.js';
import { inCi } from './exec.js';

/**
 * The S3 server of the tests: PIER_TEST_S3_URL, by default Swift's s3api started by
 * scripts/start-swift.sh. Credentials default to Swift's test account, unless AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY are set. Every test gets its own key prefix, removed by its cleanup;
 * the bucket is created when missing. Without a server the S3 tests are skipped with the
 * reason; under CI=true they run, and fail.
 */
export const S3_TEST_URL = process.env.PIER_TEST_S3_URL || 's3://pier-test?endpoint=http://127.0.0.1:8080&region=us-east-1&forcePathStyle=true';

if (!process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_SECRET_ACCESS_KEY) {
  process.env.AWS_ACCESS_KEY_ID = 'test:tester';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
}

function baseSettings(): S3Settings {
  const location = parseStorageUrl(S3_TEST_URL);
  if (location.kind !== 's3') throw new Error(`PIER_TEST_S3_URL is not an s3:// URL: ${S3_TEST_URL}`);
  return location.settings;
}

let reachable: Promise<string | undefined> | undefined;

/** undefined when the test bucket answers (created if missing), else why not. */
export function s3Problem(): Promise<string | undefined> {
  reachable ??= (async () => {
    const settings = baseSettings();
    const client = createS3Client(settings);
    try {
      await client.send(new HeadBucketCommand({ Bucket: settings.bucket })).catch(async (error: unknown) => {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
        await client.send(new CreateBucketCommand({ Bucket: settings.bucket }));
      });
      return undefined;
    } catch (error) {
      const { name, message } = error as Error;
      return `S3 is not usable at ${S3_TEST_URL} (${name}: ${message}); run scripts/start-swift.sh or set PIER_TEST_S3_URL`;
    } finally {
      client.destroy();
    }
  })();
  return reachable;
}

/** Options for `describe`: skip with the reason when S3 does not answer, unless in CI. */
export async function skipUnlessS3(): Promise<{ skip?: string }> {
  const problem = await s3Problem();
  return problem && !inCi ? { skip: problem } : {};
}

/**
 * A storage URL of the test bucket under a fresh prefix (`<prefix>/t-<random>`); `params` are
 * added to its query (`{ redirect: 'true' }`). cleanup() deletes everything under the prefix.
 */
export async function s3TestStorageUrl(params: Record<string, string> = {}): Promise<{ url: string; prefix: string; cleanup(): Promise<void> }> {
  const problem = await s3Problem();
  if (problem) throw new Error(problem);
  const base = baseSettings();
  const url = new URL(S3_TEST_URL);
  const prefix = [base.prefix, `t-${randomBytes(6).toString('hex')}`].filter(Boolean).join('/');
  url.pathname = `/${prefix}`;
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { url: url.toString(), prefix, cleanup: () => deletePrefix(base, `${prefix}/`) };
}

/** An S3 store under a fresh prefix, for driver tests. */
export async function openTestS3Store(params: Record<string, string> = {}): Promise<{ store: BlobStore; settings: S3Settings; cleanup(): Promise<void> }> {
  const { url, cleanup } = await s3TestStorageUrl(params);
  const location = parseStorageUrl(url);
  if (location.kind !== 's3') throw new Error('unreachable');
  return { store: createS3Store(location.settings), settings: location.settings, cleanup };
}

async function deletePrefix(settings: S3Settings, prefix: string): Promise<void> {
  const client = createS3Client(settings);
  try {
    const keys: string[] = [];
    for await (const object of listObjects(client, settings.bucket, prefix)) keys.push(object.Key);
    await deleteKeys(client, settings.bucket, keys, 16);
  } finally {
    client.destroy();
  }
}
