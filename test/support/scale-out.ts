import { dropTestSchema, freshSchemaName, postgresTestUrl, skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { deleteRedisPrefix, redisTestPrefix, redisTestUrl, skipUnlessRedis } from './redis.js';
import { sharedInstallation } from './replicas.js';
import { s3TestStorageUrl, skipUnlessS3 } from './s3.js';

/**
 * The scale-out configuration for tests: a PostgreSQL schema, an S3 prefix and a Redis key prefix
 * of their own, and the installation secret every replica reads. `env` is what each replica gets;
 * cleanup() drops the schema and deletes both prefixes.
 */
export interface ScaleOut {
  dir: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** undefined when every backend answers (or under CI, where a missing one fails), else a skip. */
export async function skipUnlessScaleOut(): Promise<{ skip: string } | undefined> {
  for (const check of [skipUnlessPostgres, skipUnlessS3, skipUnlessRedis]) {
    const { skip } = await check();
    if (skip) return { skip };
  }
  return undefined;
}

export async function scaleOutBackends(): Promise<ScaleOut> {
  const schema = freshSchemaName('replicas');
  const databaseUrl = postgresTestUrl(schema);
  const storage = await s3TestStorageUrl();
  const redisUrl = redisTestUrl();
  const redisPrefix = redisTestPrefix();
  const installation = await sharedInstallation({
    PIER_AUTH: 'token',
    PIER_DATABASE_URL: databaseUrl,
    PIER_STORAGE_URL: storage.url,
    PIER_REDIS_URL: redisUrl,
    PIER_REDIS_PREFIX: redisPrefix,
    // test/support/s3.ts puts the test credentials into this process's environment
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? '',
  });
  return {
    dir: installation.dir,
    env: installation.env,
    async cleanup() {
      await dropTestSchema(schema);
      await storage.cleanup();
      await deleteRedisPrefix(redisUrl, redisPrefix);
      await installation.cleanup();
    },
  };
}
