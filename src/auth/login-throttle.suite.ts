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

    it('counts an attempt when it begins: of many at once, only `failures` are allowed', withThrottle(3, 60_000, async (t) => {
      const attempts = await Promise.all(Array.from({ length: 20 }, () => t.begin('alice', '10.0.0.1')));
      const allowed = attempts.filter((a) => a.allowed);
      assert.equal(allowed.length, 3);
      assert.equal(new Set(allowed.map((a) => a.allowed && a.attempt)).size, 3, 'each attempt has an id of its own');
      // refused while the allowed ones are being checked: they settle in moments
      for (const a of attempts.filter((a) => !a.allowed)) assert.deepEqual(a, { allowed: false, retryAfterSeconds: 1 });
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 1 });
      // another account, another address: not affected
      assert.equal((await t.begin('bob', '10.0.0.1')).allowed, true);
      assert.equal((await t.begin('alice', '10.0.0.2')).allowed, true);
    }));

    it('turns the reservation into the failure: a failed attempt counts once', withThrottle(3, 60_000, async (t, clock) => {
      for (let i = 0; i < 2; i++) {
        const a = await t.begin('alice', '10.0.0.1');
        assert.ok(a.allowed);
        clock.t += 1_000;
        await t.fail('alice', '10.0.0.1', a.attempt);
      }
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true }, 'two failures, not four entries');
      const last = await t.begin('alice', '10.0.0.1');
      assert.ok(last.allowed);
      assert.deepEqual(await t.begin('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 1 });
      clock.t += 1_000;
      await t.fail('alice', '10.0.0.1', last.attempt);
      // failures at 1 s, 2 s, 3 s (when each was counted); now 3 s: the first leaves at 61 s
      assert.deepEqual(await t.begin('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 58 });
      clock.t += 58_000;
      assert.equal((await t.begin('alice', '10.0.0.1')).allowed, true);
    }));

    it('a success forgets the failures and its own reservation; the other attempts being checked still count', withThrottle(3, 60_000, async (t) => {
      await t.fail('alice', '10.0.0.1');
      const mine = await t.begin('alice', '10.0.0.1');
      const other = await t.begin('alice', '10.0.0.1');
      assert.ok(mine.allowed && other.allowed);
      assert.deepEqual(await t.begin('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 1 });
      await t.succeed('alice', '10.0.0.1', mine.attempt);
      // left: `other`, being checked
      assert.equal((await t.begin('alice', '10.0.0.1')).allowed, true);
      assert.equal((await t.begin('alice', '10.0.0.1')).allowed, true);
      assert.equal((await t.begin('alice', '10.0.0.1')).allowed, false);
    }));

    it('a released attempt counts neither as a failure nor as a success', withThrottle(2, 60_000, async (t) => {
      await t.fail('alice', '10.0.0.1');
      const a = await t.begin('alice', '10.0.0.1');
      assert.ok(a.allowed);
      assert.equal((await t.check('alice', '10.0.0.1')).allowed, false);
      await t.release('alice', '10.0.0.1', a.attempt);
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
      const b = await t.begin('alice', '10.0.0.1');
      assert.ok(b.allowed);
      await t.fail('alice', '10.0.0.1', b.attempt);
      assert.equal((await t.check('alice', '10.0.0.1')).allowed, false, 'the failure before the release still counts');
    }));

    it('an attempt never settled (a crash) blocks no longer than the window', withThrottle(1, 60_000, async (t, clock) => {
      assert.equal((await t.begin('alice', '10.0.0.1')).allowed, true);
      clock.t += 59_999;
      assert.equal((await t.begin('alice', '10.0.0.1')).allowed, false);
      clock.t += 1;
      const next = await t.begin('alice', '10.0.0.1');
      assert.ok(next.allowed, 'the reservation left with the window');
      await t.succeed('alice', '10.0.0.1', next.attempt);
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
    }));

    it('a failure still counts when its reservation has left the window', withThrottle(2, 60_000, async (t, clock) => {
      const a = await t.begin('alice', '10.0.0.1');
      assert.ok(a.allowed);
      clock.t += 60_000;
      await t.fail('alice', '10.0.0.1', a.attempt);
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
      await t.fail('alice', '10.0.0.1');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 60 });
    }));

    it('settling an unknown or settled attempt changes nothing but what it says', withThrottle(2, 60_000, async (t) => {
      const a = await t.begin('alice', '10.0.0.1');
      assert.ok(a.allowed);
      await t.release('alice', '10.0.0.1', a.attempt);
      await t.release('alice', '10.0.0.1', a.attempt);
      await t.release('alice', '10.0.0.1', 'no-such-attempt');
      await t.succeed('alice', '10.0.0.1', 'no-such-attempt');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true });
      await t.fail('alice', '10.0.0.1', 'no-such-attempt');
      assert.deepEqual(await t.check('alice', '10.0.0.1'), { allowed: true }, 'one failure');
    }));

    it('refuses nonsense options', async () => {
      await assert.rejects(create({ failures: 0, windowMs: 60_000, now: Date.now }));
      await assert.rejects(create({ failures: 1.5, windowMs: 60_000, now: Date.now }));
      await assert.rejects(create({ failures: 1, windowMs: 0, now: Date.now }));
    });
  });
}
