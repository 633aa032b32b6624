import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle } from './login-throttle.js';

function throttle(failures = 3, windowMs = 60_000, maxKeys?: number) {
  const clock = { t: 1_000_000 };
  const t = new LoginThrottle({ failures, windowMs, now: () => clock.t, maxKeys });
  return { t, clock };
}

describe('LoginThrottle', () => {
  it('allows `failures` failures, then refuses with the seconds until the oldest leaves the window', () => {
    const { t, clock } = throttle(3, 60_000);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(t.check('alice', '10.0.0.1'), { allowed: true });
      t.fail('alice', '10.0.0.1');
      clock.t += 10_000;
    }
    // failures at 0 s, 10 s, 20 s; now 30 s: the first leaves the window at 60 s
    assert.deepEqual(t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 30 });
    clock.t += 29_999;
    assert.equal(t.check('alice', '10.0.0.1').allowed, false);
    clock.t += 1;
    assert.deepEqual(t.check('alice', '10.0.0.1'), { allowed: true });
    // one free attempt: failing again blocks until the next oldest leaves
    t.fail('alice', '10.0.0.1');
    assert.deepEqual(t.check('alice', '10.0.0.1'), { allowed: false, retryAfterSeconds: 10 });
  });

  it('counts per account and address together: a stranger elsewhere does not lock the account out', () => {
    const { t } = throttle(2);
    t.fail('alice', '203.0.113.9');
    t.fail('alice', '203.0.113.9');
    assert.equal(t.check('alice', '203.0.113.9').allowed, false);
    assert.equal(t.check('alice', '10.0.0.1').allowed, true);
    assert.equal(t.check('bob', '203.0.113.9').allowed, true);
  });

  it('treats account names case-insensitively', () => {
    const { t } = throttle(1);
    t.fail('Alice', '10.0.0.1');
    assert.equal(t.check('alice', '10.0.0.1').allowed, false);
  });

  it('forgets the failures after a success', () => {
    const { t } = throttle(2);
    t.fail('alice', '10.0.0.1');
    t.fail('alice', '10.0.0.1');
    t.succeed('alice', '10.0.0.1');
    assert.equal(t.check('alice', '10.0.0.1').allowed, true);
    assert.equal(t.size, 0);
  });

  it('evicts expired keys and caps the number of keys', () => {
    const { t, clock } = throttle(5, 1000, 100);
    for (let i = 0; i < 50; i++) t.fail(`user${i}`, '10.0.0.1');
    assert.equal(t.size, 50);
    clock.t += 1001;
    t.fail('late', '10.0.0.1');
    assert.equal(t.size, 1, 'expired keys are dropped when another failure comes in');
    for (let i = 0; i < 500; i++) t.fail(`flood${i}`, '10.0.0.2');
    assert.equal(t.size, 100);
    // the most recent failures are the ones kept
    t.fail('flood499', '10.0.0.2');
    t.fail('flood499', '10.0.0.2');
    t.fail('flood499', '10.0.0.2');
    t.fail('flood499', '10.0.0.2');
    assert.equal(t.check('flood499', '10.0.0.2').allowed, false);
  });

  it('refuses nonsense options', () => {
    assert.throws(() => new LoginThrottle({ failures: 0, windowMs: 1000, now: Date.now }));
    assert.throws(() => new LoginThrottle({ failures: 1, windowMs: 0, now: Date.now }));
  });
});
