import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { deleteRedisPrefix, redisKeys, redisTestPrefix, redisTestUrl, skipUnlessRedis } from '../../test/support/redis.js';
import type { RedisConnection } from './redis-connection.js';
import { manifestCacheSuite, manifestRecord, missOf, repo } from './manifest-cache.suite.js';
import { openTestConnection } from './redis-connection.testing.js';
import { RedisManifestCache } from './redis-manifest-cache.js';

const silent = pino({ level: 'silent' });
const record = manifestRecord;

/** Two replicas: two connections and caches under one prefix. */
async function replicas(options: { maxEntryBytes?: number } = {}) {
  const prefix = redisTestPrefix();
  const opened = [await openTestConnection({ prefix }), await openTestConnection({ prefix })];
  const caches = opened.map((o) => new RedisManifestCache(o.connection, { logger: silent, ...options }));
  return {
    a: caches[0]!,
    b: caches[1]!,
    connections: opened.map((o) => o.connection) as [RedisConnection, RedisConnection],
    prefix,
    async cleanup() {
      for (const c of caches) c.close();
      for (const o of opened) await o.connection.close();
      await deleteRedisPrefix(redisTestUrl(), prefix);
    },
  };
}

const skipRedis = await skipUnlessRedis();

manifestCacheSuite('Redis, two replicas', replicas, skipRedis);

describe('RedisManifestCache', skipRedis, () => {
  it('retires every entry when a replica reconnects: what it wrote while away was never invalidated', async () => {
    const { a, b, connections, cleanup } = await replicas();
    const admin = new Redis(redisTestUrl());
    try {
      await missOf(await a.read(repo, 'latest'))(record('before'));
      assert.ok((await b.read(repo, 'latest')).record, 'B hits what A filled');
      // drop B's connection: it reconnects (a new generation) and sets a new epoch before using the cache
      const id = await connections[1].client.client('ID');
      const back = once(connections[1].client, 'ready');
      await admin.client('KILL', 'ID', String(id));
      await back;
      assert.equal((await b.read(repo, 'latest')).record, undefined, 'B does not trust entries from before');
      assert.equal((await a.read(repo, 'latest')).record, undefined, 'nor does A: the epoch is shared');
    } finally {
      admin.disconnect();
      await cleanup();
    }
  });

  it('keeps its keys under the prefix, each with a TTL', async () => {
    const { a, prefix, cleanup } = await replicas();
    const admin = new Redis(redisTestUrl());
    try {
      await missOf(await a.read(repo, 'latest'))(record('v1'));
      const keys = await redisKeys(redisTestUrl(), prefix);
      assert.deepEqual(keys, ['mc:epoch', 'mc:m:alice/app@latest', 'mc:v:alice/app']);
      const entryTtl = await admin.pttl(`${prefix}mc:m:alice/app@latest`);
      const versionTtl = await admin.pttl(`${prefix}mc:v:alice/app`);
      assert.ok(entryTtl > 55_000 && entryTtl <= 60_000, `entry TTL ${entryTtl}`);
      assert.ok(versionTtl > entryTtl, `version TTL ${versionTtl} outlives the entry`);
    } finally {
      admin.disconnect();
      await cleanup();
    }
  });
});
