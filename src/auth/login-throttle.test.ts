import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLoginThrottle } from './login-throttle.js';
import { loginThrottleSuite } from './login-throttle.suite.js';

loginThrottleSuite('in process', async (options) => ({ throttle: new MemoryLoginThrottle(options) }));

describe('MemoryLoginThrottle', () => {
  it('evicts expired keys and caps the number of keys', async () => {
    const clock = { t: 1_000_000 };
    const t = new MemoryLoginThrottle({ failures: 5, windowMs: 1000, now: () => clock.t, maxKeys: 100 });
    for (let i = 0; i < 50; i++) await t.fail(`user${i}`, '10.0.0.1');
    assert.equal(t.size, 50);
    clock.t += 1001;
    await t.fail('late', '10.0.0.1');
    assert.equal(t.size, 1, 'expired keys are dropped when another failure comes in');
    for (let i = 0; i < 500; i++) await t.fail(`flood${i}`, '10.0.0.2');
    assert.equal(t.size, 100);
    // the most recent failures are the ones kept
    for (let i = 0; i < 4; i++) await t.fail('flood499', '10.0.0.2');
    assert.equal((await t.check('flood499', '10.0.0.2')).allowed, false);
  });

  it('holds no key after a success', async () => {
    const t = new MemoryLoginThrottle({ failures: 2, windowMs: 60_000, now: () => 0 });
    await t.fail('alice', '10.0.0.1');
    await t.succeed('alice', '10.0.0.1');
    assert.equal(t.size, 0);
  });

  it('holds no key once its attempts are settled, and forgets keys whose reservations expired', async () => {
    const clock = { t: 1_000_000 };
    const t = new MemoryLoginThrottle({ failures: 2, windowMs: 60_000, now: () => clock.t });
    const a = await t.begin('alice', '10.0.0.1');
    const b = await t.begin('bob', '10.0.0.1');
    assert.ok(a.allowed && b.allowed);
    assert.equal(t.size, 2);
    await t.succeed('alice', '10.0.0.1', a.attempt);
    await t.release('bob', '10.0.0.1', b.attempt);
    assert.equal(t.size, 0);
    // never settled: dropped once the window has passed, when another key is written
    for (let i = 0; i < 10; i++) await t.begin(`crashed${i}`, '10.0.0.1');
    assert.equal(t.size, 10);
    clock.t += 60_000;
    await t.begin('carol', '10.0.0.1');
    assert.equal(t.size, 1);
  });

  it('reserves synchronously: attempts begun in one tick are counted one by one', async () => {
    const t = new MemoryLoginThrottle({ failures: 5, windowMs: 60_000, now: () => 0 });
    // not awaited one by one: all begin before any of them settles
    const pending = Array.from({ length: 50 }, () => t.begin('alice', '10.0.0.1'));
    const allowed = (await Promise.all(pending)).filter((a) => a.allowed).length;
    assert.equal(allowed, 5);
  });
});
