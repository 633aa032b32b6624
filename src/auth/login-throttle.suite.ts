import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoginThrottle, LoginThrottleOptions } from './login-throttle.js';

export interface ThrottleUnderTest {
  throttle: LoginThrottle;
  cleanup?: () => Promise<void>;
}

/**
 * The one suite every LoginThrottle runs (in process, Redis). Windows are a minute or more: the
 * clock is injected, but Redis also expires keys on its own clock after the window.
 */
export function loginThrottleSuite(
  name: string,
  create: (options: LoginThrottleOptions) => Promise<ThrottleUnderTest>,
  describeOptions: { skip?: string } = {},
): void {
  describe(`LoginThrottle: ${name}`, describeOptions, () => {
    const withThrottle =
      (failures: number, windowMs: number, test: (t: LoginThrottle, clock: { t: number }) => Promise<void>) => async () => {
        const clock = { t: 1_900_000_000_000 };
        const { throttle, cleanup } = await create({ failures, windowMs, now: () => clock.t });
        try {
          await test(throttle, clock);
        } finally {
          await cleanup?.();
        }
      };

    it('allows `failures` failures, then refuses with the seconds until the oldest leaves the window', withThrottle(3, 60_000, async (t, clock) => {
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
        await t.fail('alice', '10.0.0.1');
        clock.t += 10_000;
      }
      // failures at 0 s, 10 s, 20 s; now 30 s: the first leaves the window at 60 s
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 30 });
      clock.t += 29_999;
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 1 });
      clock.t += 1;
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
      // one free attempt: failing again blocks until the next oldest leaves
      await t.fail('alice', '10.0.0.1');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 10 });
    }));

    it('keeps only the failures that count: many failures block no longer than `failures` of them', withThrottle(2, 60_000, async (t, clock) => {
      for (let i = 0; i < 10; i++) {
        await t.fail('alice', '10.0.0.1');
        clock.t += 1_000;
      }
      // the last two failures were at 8 s and 9 s; now 10 s: free at 68 s
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 58 });
      clock.t += 58_000;
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
    }));

    it('counts two failures in the same millisecond as two', withThrottle(2, 60_000, async (t) => {
      await t.fail('alice', '10.0.0.1');
      await t.fail('alice', '10.0.0.1');
      assert.equal((await t.check('alice', '10.0.0.1')).allowed, false);
    }));

    it('counts per account and address together: a stranger elsewhere does not lock the account out', withThrottle(2, 60_000, async (t) => {
      await t.fail('alice', '203.0.113.9');
      await t.fail('alice', '203.0.113.9');
      assert.equal((await t.check('alice', '203.0.113.9')).allowed, false);
      assert.equal((await t.check('alice', '10.0.0.1')).allowed, true);
      assert.equal((await t.check('bob', '203.0.113.9')).allowed, true);
      assert.equal((await t.check('alice', '2001:db8::1')).allowed, true);
    }));

    it('treats account names case-insensitively', withThrottle(1, 60_000, async (t) => {
      await t.fail(' Alice', '10.0.0.1');
      assert.equal((await t.check('alice', '10.0.0.1')).allowed, false);
    }));

    it('forgets the failures after a success', withThrottle(2, 60_000, async (t) => {
      await t.fail('alice', '10.0.0.1');
      await t.fail('alice', '10.0.0.1');
      await t.succeed('alice', '10.0.0.1');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
      await t.fail('alice', '10.0.0.1');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
    }));

    it('forgets failures older than the window', withThrottle(2, 120_000, async (t, clock) => {
      await t.fail('alice', '10.0.0.1');
      clock.t += 120_000;
      await t.fail('alice', '10.0.0.1');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true }, 'a failure exactly one window old no longer counts');
      await t.fail('alice', '10.0.0.1');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 120 });
    }));

    it('refuses nonsense options', async () => {
      await assert.rejects(create({ failures: 0, windowMs: 60_000, now: Date.now }));
      await assert.rejects(create({ failures: 1.5, windowMs: 60_000, now: Date.now }));
      await assert.rejects(create({ failures: 1, windowMs: 0, now: Date.now }));
    });
  });
}
