// The scale-out configuration for the benchmark: Pier over PostgreSQL, an S3-compatible store and
// Redis, and the reference registry over the same object store (its s3 driver) and Redis (its
// blob-descriptor cache), each under a fresh schema / prefix that cleanup() removes.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import pg from 'pg';

export const SCALE_OUT_OPTIONS = {
  'database-url': { env: 'BENCH_DATABASE_URL', def: 'postgres://postgres@127.0.0.1:5432/test', help: 'PostgreSQL for --backends scale-out (a fresh schema per run)' },
  's3-endpoint': { env: 'BENCH_S3_ENDPOINT', def: 'http://127.0.0.1:8080', help: 'S3-compatible endpoint for --backends scale-out (credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, default test:tester/testing)' },
  's3-bucket': { env: 'BENCH_S3_BUCKET', def: 'pier-bench', help: 'bucket for --backends scale-out (created when missing)' },
  'redis-url': { env: 'BENCH_REDIS_URL', def: 'redis://127.0.0.1:6379', help: 'Redis for --backends scale-out' },
};

export async function prepareScaleOut(opts) {
  // the SDK is pinned: its notice about future versions needing Node 22 is not for this run
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } = await import('@aws-sdk/client-s3');
  const id = randomBytes(4).toString('hex');
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID || 'test:tester';
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY || 'testing';
  const region = process.env.AWS_REGION || 'us-east-1';
  const s3 = new S3Client({ endpoint: opts.s3Endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: opts.s3Bucket }));
  } catch (error) {
    if (!/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(error.name)) throw error;
  }
  const schema = `bench_${id}`;
  const databaseUrl = new URL(opts.databaseUrl);
  databaseUrl.searchParams.set('schema', schema);
  const pierPrefix = `pier-${id}`;
  const referencePrefix = `reference-${id}`;
  const redisPrefix = `bench-${id}:`;
  const storage = new URL(`s3://${opts.s3Bucket}/${pierPrefix}`);
  storage.searchParams.set('endpoint', opts.s3Endpoint);
  storage.searchParams.set('region', region);
  storage.searchParams.set('forcePathStyle', 'true');
  const redis = new URL(opts.redisUrl);
  return {
    describe: `PostgreSQL ${opts.databaseUrl.replace(/:[^:@/]*@/, '@')} schema ${schema}, S3 ${opts.s3Endpoint} ${opts.s3Bucket}/{${pierPrefix},${referencePrefix}}, Redis ${opts.redisUrl}`,
    pierEnv: {
      PIER_DATABASE_URL: databaseUrl.toString(),
      PIER_STORAGE_URL: storage.toString(),
      PIER_REDIS_URL: opts.redisUrl,
      PIER_REDIS_PREFIX: redisPrefix,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    },
    /** the `storage:` driver lines and the `redis:` section of the reference's config */
    referenceStorage: [
      '  s3:',
      `    accesskey: "${accessKeyId}"`,
      `    secretkey: "${secretAccessKey}"`,
      `    region: ${region}`,
      `    regionendpoint: ${opts.s3Endpoint}`,
      `    bucket: ${opts.s3Bucket}`,
      `    rootdirectory: /${referencePrefix}`,
      `    secure: ${opts.s3Endpoint.startsWith('https:')}`,
      '    v4auth: true',
      // both serve the bytes themselves (Pier's redirect=true is off by default too)
      '  redirect:',
      '    disable: true',
    ],
    referenceCache: ['  cache:', '    blobdescriptor: redis'],
    referenceRedis: ['redis:', `  addr: ${redis.hostname}:${redis.port || 6379}`, '  db: 0'],
    async cleanup() {
      const client = new pg.Client({ connectionString: opts.databaseUrl });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`).finally(() => client.end());
      for (const prefix of [pierPrefix, referencePrefix]) {
        let token;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: opts.s3Bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
          // one request per key: Swift's multi-delete wants a Content-MD5 that the SDK no longer sends
          const keys = (page.Contents ?? []).map((o) => o.Key);
          for (let i = 0; i < keys.length; i += 16) {
            await Promise.all(keys.slice(i, i + 16).map((Key) => s3.send(new DeleteObjectCommand({ Bucket: opts.s3Bucket, Key }))));
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      }
      const r = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await r.connect();
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
        if (keys.length) await r.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      r.disconnect();
      s3.destroy();
    },
  };
}
