import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { loginThrottleSuite } from '../auth/login-throttle.suite.js';
import {
  deleteRedisPrefix,
  redisKeys,
  redisTestPrefix,
  redisTestUrl,
  skipUnlessRedis,
  skipUnlessRedisServer,
  startPrivateRedis,
} from '../../test/support/redis.js';
import { LogCapture, openTestConnection } from './redis-connection.testing.js';
import { RedisLoginThrottle } from './redis-login-throttle.js';

loginThrottleSuite(
  'Redis',
  async (options) => {
    const { connection, cleanup } = await openTestConnection();
    try {
      return { throttle: new RedisLoginThrottle(connection, options), cleanup };
    } catch (error) {
      await cleanup();
      throw error;
    }
  },
  await skipUnlessRedis(),
);

describe('RedisLoginThrottle: attempts on several replicas', await skipUnlessRedis(), () => {
  it('counts attempts begun on two replicas at once against one limit, settled on either', async () => {
    const prefix = redisTestPrefix();
    const a = await openTestConnection({ prefix });
    const b = await openTestConnection({ prefix });
    try {
      const clock = { t: 1_900_000_000_000 };
      const options = { failures: 4, windowMs: 15 * 60_000, now: () => clock.t };
      const onA = new RedisLoginThrottle(a.connection, options);
      const onB = new RedisLoginThrottle(b.connection, options);
      const attempts = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? onA : onB).begin('alice', '10.0.0.1')));
      const allowed = attempts.flatMap((attempt) => (attempt.allowed ? [attempt.attempt] : []));
      assert.equal(allowed.length, 4, 'four of thirty, whichever replica they came to');
      assert.equal(new Set(allowed).size, 4);
      assert.deepEqual(await onA.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 1 });
      // settled on any replica: each reservation becomes one failure
      clock.t += 1_000;
      for (const attempt of allowed) await onB.fail('alice', '10.0.0.1', attempt);
      assert.deepEqual(await onA.begin('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 15 * 60 });
      const keys = await redisKeys(redisTestUrl(), prefix);
      assert.equal(keys.length, 1);
      const admin = new Redis(redisTestUrl());
      try {
        assert.equal(await admin.zcard(`${prefix}${keys[0]}`), 4, 'four failures, no reservation left');
      } finally {
        admin.disconnect();
      }
      await onA.succeed('alice', '10.0.0.1');
      assert.deepEqual(await redisKeys(redisTestUrl(), prefix), []);
    } finally {
      await a.connection.close();
      await b.connection.close();
      await deleteRedisPrefix(redisTestUrl(), prefix);
    }
  });

  it('lets Redis forget an attempt never settled one window after it began', async () => {
    const { connection, prefix, cleanup } = await openTestConnection();
    const admin = new Redis(redisTestUrl());
    try {
      const throttle = new RedisLoginThrottle(connection, { failures: 3, windowMs: 90_000, now: Date.now });
      assert.equal((await throttle.begin('alice', '10.0.0.1')).allowed, true);
      const keys = await redisKeys(redisTestUrl(), prefix);
      assert.equal(keys.length, 1);
      const ttl = await admin.pttl(`${prefix}${keys[0]}`);
      assert.ok(ttl > 80_000 && ttl <= 90_000, `expires with the window (${ttl} ms)`);
    } finally {
      admin.disconnect();
      await cleanup();
    }
  });
});

const UNAVAILABLE = 'Redis is unavailable';
const BACK = 'Redis is available again';
const fast = { maxBackoffMs: 50, commandTimeoutMs: 300, probeIntervalMs: 50 };

describe('RedisLoginThrottle while Redis is down', await skipUnlessRedisServer(), () => {
  it('reserves in process, one by one, and settles those attempts once Redis is back', async () => {
    const redis = await startPrivateRedis();
    const logs = new LogCapture();
    const { connection, cleanup } = await openTestConnection({ url: redis.url, prefix: 'pier:', logger: logs.logger, ...fast });
    let other: Awaited<ReturnType<typeof openTestConnection>> | undefined;
    try {
      const clock = { t: 1_900_000_000_000 };
      const options = { failures: 3, windowMs: 10 * 60_000, now: () => clock.t };
      const throttle = new RedisLoginThrottle(connection, options);
      await redis.kill();
      await logs.waitFor(UNAVAILABLE);
      const attempts = await Promise.all(Array.from({ length: 20 }, () => throttle.begin('alice', '10.0.0.1')));
      const allowed = attempts.flatMap((attempt) => (attempt.allowed ? [attempt.attempt] : []));
      assert.equal(allowed.length, 3, 'never refused because Redis is down, and still counted');
      const lucky = await throttle.begin('bob', '10.0.0.1');
      assert.ok(lucky.allowed);

      await redis.start();
      await logs.waitFor(BACK);
      // the failures of attempts reserved in process count in Redis now, for every replica
      for (const attempt of allowed) await throttle.fail('alice', '10.0.0.1', attempt);
      other = await openTestConnection({ url: redis.url, prefix: 'pier:', ...fast });
      const elsewhere = new RedisLoginThrottle(other.connection, options);
      assert.deepEqual(await elsewhere.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 600 });
      // and their reservations are gone from this process: once the failures are forgotten, it is free
      await elsewhere.succeed('alice', '10.0.0.1');
      assert.deepEqual(await throttle.check('alice', '10.0.0.1'), { allowed: true });
      // a success settles an attempt reserved in process too
      await throttle.succeed('bob', '10.0.0.1', lucky.attempt);
      const more = await Promise.all(Array.from({ length: 5 }, () => throttle.begin('bob', '10.0.0.1')));
      assert.equal(more.filter((attempt) => attempt.allowed).length, 3);
    } finally {
      await other?.connection.close();
      await cleanup();
      await redis.stop();
    }
  });
});
