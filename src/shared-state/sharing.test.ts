// Two replicas = two connections under one prefix: what one counts, the other sees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deleteRedisPrefix, redisKeys, redisTestPrefix, redisTestUrl, skipUnlessRedis } from '../../test/support/redis.js';
import { openTestConnection } from './redis-connection.testing.js';
import { RedisCounters } from './redis-counters.js';
import { RedisLoginThrottle } from './redis-login-throttle.js';

describe('shared state in Redis, between replicas', await skipUnlessRedis(), () => {
  const twoReplicas = async () => {
    const prefix = redisTestPrefix();
    const a = await openTestConnection({ prefix });
    const b = await openTestConnection({ prefix });
    return {
      a: a.connection,
      b: b.connection,
      prefix,
      async cleanup() {
        await a.connection.close();
        await b.connection.close();
        await deleteRedisPrefix(redisTestUrl(), prefix);
      },
    };
  };

  it('counts login failures of every replica together, and a success on one clears them for all', async () => {
    const { a, b, prefix, cleanup } = await twoReplicas();
    try {
      const clock = { t: 1_900_000_000_000 };
      const options = { failures: 3, windowMs: 15 * 60_000, now: () => clock.t };
      const onA = new RedisLoginThrottle(a, options);
      const onB = new RedisLoginThrottle(b, options);
      await onA.fail('alice', '10.0.0.1');
      await onB.fail('alice', '10.0.0.1');
      assert.equal((await onA.check('alice', '10.0.0.1')).allowed, true);
      await onA.fail('alice', '10.0.0.1');
      assert.deepEqual(await onB.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 15 * 60 });
      const keys = await redisKeys(redisTestUrl(), prefix);
      assert.equal(keys.length, 1);
      assert.match(keys[0]!, /^login:[\w-]{43}$/, 'one hashed key under the prefix');
      await onB.succeed('alice', '10.0.0.1');
      assert.deepEqual(await onA.check('alice', '10.0.0.1'), { allowed: true });
      assert.deepEqual(await redisKeys(redisTestUrl(), prefix), []);
    } finally {
      await cleanup();
    }
  });

  it('counts hits of every replica against one limit', async () => {
    const { a, b, prefix, cleanup } = await twoReplicas();
    try {
      const clock = { t: 1_900_000_000_000 };
      const onA = new RedisCounters(a, { now: () => clock.t });
      const onB = new RedisCounters(b, { now: () => clock.t });
      const hits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? onA : onB).hit('pulls:ip:10.0.0.1', 6, 3_600_000)));
      assert.equal(hits.filter((h) => h.allowed).length, 6);
      assert.equal((await onB.peek('pulls:ip:10.0.0.1', 6, 3_600_000)).remaining, 0);
      assert.deepEqual(await redisKeys(redisTestUrl(), prefix), ['count:pulls:ip:10.0.0.1']);
    } finally {
      await cleanup();
    }
  });
});
