// Redis going away and coming back, with a redis-server of the test's own: nothing fails, the
// outage is logged once, counting goes back to Redis, and no cached manifest outlives a change
// that Redis missed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { ManifestRecord } from '../metadata/registry-index.js';
import type { RepositoryName } from '../oci/names.js';
import { startPrivateRedis, skipUnlessRedisServer } from '../../test/support/redis.js';
import { LogCapture, openTestConnection } from './redis-connection.testing.js';
import { RedisCounters } from './redis-counters.js';
import { RedisLoginThrottle } from './redis-login-throttle.js';
import { RedisManifestCache } from './redis-manifest-cache.js';

const UNAVAILABLE = 'Redis is unavailable';
const BACK = 'Redis is available again';
const fast = { maxBackoffMs: 50, commandTimeoutMs: 300, probeIntervalMs: 50 };
const repo = 'alice/app' as RepositoryName;

function record(text: string): ManifestRecord {
  const content = Buffer.from(text);
  return { digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: content.length, content };
}

describe('Redis going away and coming back', await skipUnlessRedisServer(), () => {
  it('counts in process while Redis is down, says so once, and counts in Redis again when it is back', async () => {
    const redis = await startPrivateRedis();
    const logs = new LogCapture();
    const { connection, cleanup } = await openTestConnection({ url: redis.url, prefix: 'pier:', logger: logs.logger, ...fast });
    const admin = new Redis(redis.url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
    admin.on('error', () => {});
    try {
      const clock = { t: 1_900_000_000_000 };
      const throttle = new RedisLoginThrottle(connection, { failures: 3, windowMs: 15 * 60_000, now: () => clock.t });
      const counters = new RedisCounters(connection, { now: () => clock.t });
      const cache = new RedisManifestCache(connection, { logger: logs.logger });

      await throttle.fail('alice', '10.0.0.1');
      await counters.hit('pulls', 100, 3_600_000);
      assert.equal((await admin.keys('pier:*')).length, 2, 'counted in Redis');

      await redis.kill();
      await logs.waitFor(UNAVAILABLE);
      const started = performance.now();
      // logins: checked and counted in process, never refused because Redis is down
      assert.deepEqual(await throttle.check('alice', '10.0.0.1'), { allowed: true });
      for (let i = 0; i < 3; i++) await throttle.fail('alice', '10.0.0.1');
      assert.equal((await throttle.check('alice', '10.0.0.1')).allowed, false, 'throttled in process meanwhile');
      await throttle.succeed('bob', '10.0.0.1');
      // counters count in process
      assert.deepEqual(
        (await Promise.all([1, 2, 3].map(() => counters.hit('pulls', 2, 3_600_000)))).map((s) => s.allowed),
        [true, true, false],
      );
      // the cache misses, and a change is accepted
      const read = await cache.read(repo, 'latest');
      assert.equal(read.record, undefined);
      await read.fill!(record('x'));
      await cache.invalidate(repo);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 300, `nothing waited for the dead Redis (a command timeout is 300 ms) (${elapsed.toFixed(0)} ms)`);
      assert.equal(logs.find(UNAVAILABLE).length, 1, 'said once');
      assert.equal(logs.find(UNAVAILABLE)[0]!.level, 40, 'as a warning');

      await redis.start();
      await logs.waitFor(BACK);
      assert.equal(logs.find(BACK)[0]!.level, 30);
      await throttle.fail('carol', '10.0.0.2');
      await counters.hit('pulls:after', 100, 3_600_000);
      assert.equal((await admin.keys('pier:*')).sort().join(' ').match(/login:|count:pulls:after/g)?.length, 2, 'counted in Redis again');
      // another replica sees what this one counts now
      const { connection: other, cleanup: closeOther } = await openTestConnection({ url: redis.url, prefix: 'pier:', ...fast });
      try {
        await throttle.fail('carol', '10.0.0.2');
        await throttle.fail('carol', '10.0.0.2');
        const elsewhere = new RedisLoginThrottle(other, { failures: 3, windowMs: 15 * 60_000, now: () => clock.t });
        assert.equal((await elsewhere.check('carol', '10.0.0.2')).allowed, false);
      } finally {
        await closeOther();
      }
      assert.equal(logs.find(UNAVAILABLE).length, 1);
      cache.close();
    } finally {
      admin.disconnect();
      await cleanup();
      await redis.stop();
    }
  });

  it('starts without Redis (said once), and uses it once it answers', async () => {
    const redis = await startPrivateRedis();
    await redis.kill();
    const logs = new LogCapture();
    const started = performance.now();
    const { connection, cleanup } = await openTestConnection({ url: redis.url, prefix: 'pier:', logger: logs.logger, ...fast });
    try {
      assert.ok(performance.now() - started < 1_000, 'open() does not wait for a Redis that refuses connections');
      assert.equal(connection.available, false);
      await assert.rejects(connection.ping(), /unavailable/);
      assert.equal(logs.find(UNAVAILABLE).length, 1);
      const counters = new RedisCounters(connection, { now: () => 0 });
      assert.equal((await counters.hit('k', 1, 60_000)).allowed, true, 'counted in process meanwhile');

      await redis.start();
      await logs.waitFor(BACK);
      await connection.ping();
      await counters.hit('k2', 1, 60_000);
      const admin = new Redis(redis.url);
      try {
        assert.deepEqual(await admin.keys('pier:*'), ['pier:count:k2']);
      } finally {
        admin.disconnect();
      }
      assert.equal(logs.find(UNAVAILABLE).length, 1, 'retries are not logged');
    } finally {
      await cleanup();
      await redis.stop();
    }
  });

  it('a hung Redis costs one command timeout, then is bypassed until it answers again', async () => {
    const redis = await startPrivateRedis();
    const logs = new LogCapture();
    const { connection, cleanup } = await openTestConnection({ url: redis.url, prefix: 'pier:', logger: logs.logger, ...fast });
    try {
      const clock = { t: 1_900_000_000_000 };
      const throttle = new RedisLoginThrottle(connection, { failures: 2, windowMs: 60_000, now: () => clock.t });
      redis.pause();
      let started = performance.now();
      assert.deepEqual(await throttle.check('alice', '10.0.0.1'), { allowed: true });
      const first = performance.now() - started;
      assert.ok(first >= 250 && first < 1_000, `the first command waits for its timeout (${first.toFixed(0)} ms)`);
      started = performance.now();
      for (let i = 0; i < 2; i++) await throttle.fail('alice', '10.0.0.1');
      assert.equal((await throttle.check('alice', '10.0.0.1')).allowed, false);
      const next = performance.now() - started;
      assert.ok(next < 300, `then nothing waits for a timeout (${next.toFixed(0)} ms)`);
      assert.equal(logs.find(UNAVAILABLE).length, 1);

      redis.resume();
      await logs.waitFor(BACK);
      await throttle.fail('bob', '10.0.0.1');
      const admin = new Redis(redis.url);
      try {
        assert.equal((await admin.keys('pier:login:*')).length, 1, 'counted in Redis again');
      } finally {
        admin.disconnect();
      }
    } finally {
      await cleanup();
      await redis.stop();
    }
  });

  it('retires cached manifests when Redis comes back with keys from before a change it missed', async () => {
    // a persistent Redis: restarted, it still holds the entry and the version from before the change
    const redis = await startPrivateRedis({ persistent: true });
    const logs = new LogCapture();
    const a = await openTestConnection({ url: redis.url, prefix: 'pier:', logger: logs.logger, ...fast });
    const b = await openTestConnection({ url: redis.url, prefix: 'pier:', logger: logs.logger, ...fast });
    const onA = new RedisManifestCache(a.connection, { logger: logs.logger });
    const onB = new RedisManifestCache(b.connection, { logger: logs.logger });
    try {
      await (await onA.read(repo, 'latest')).fill!(record('old'));
      assert.ok((await onB.read(repo, 'latest')).record, 'B hits the entry A filled');

      await redis.kill();
      await logs.waitFor(UNAVAILABLE, 2);
      // A moves the tag (the index changed) but cannot invalidate
      await onA.invalidate(repo);
      assert.equal(logs.find('could not invalidate').length, 1);

      await redis.start();
      await logs.waitFor(BACK, 2);
      const readOnB = await onB.read(repo, 'latest');
      assert.equal(readOnB.record, undefined, 'the entry from before the change is not served');
      await readOnB.fill!(record('new'));
      assert.equal((await onA.read(repo, 'latest')).record?.content.toString(), 'new', 'and the cache works again');
    } finally {
      onA.close();
      onB.close();
      await a.cleanup();
      await b.cleanup();
      await redis.stop();
    }
  });
});
