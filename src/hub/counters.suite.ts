import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Counters } from './counters.js';

export interface CountersUnderTest {
  counters: Counters;
  cleanup?: () => Promise<void>;
}

const MINUTE = 60_000;

/**
 * The one suite every Counters runs (in process, Redis). Windows are a minute or more: the clock
 * is injected, but Redis also expires keys on its own clock when a window ends.
 */
export function countersSuite(name: string, create: (now: () => number) => Promise<CountersUnderTest>, describeOptions: { skip?: string } = {}): void {
  describe(`Counters: ${name}`, describeOptions, () => {
    const withCounters = (test: (c: Counters, clock: { t: number }) => Promise<void>) => async () => {
      const clock = { t: 1_900_000_000_000 };
      const { counters, cleanup } = await create(() => clock.t);
      try {
        await test(counters, clock);
      } finally {
        await cleanup?.();
      }
    };

    it('allows `limit` hits in a window opened by the first, then refuses until it ends', withCounters(async (c, clock) => {
      const opened = clock.t;
      assert.deepEqual(await c.hit('pulls:alice', 3, 10 * MINUTE), { allowed: true, limit: 3, remaining: 2, resetAt: opened + 10 * MINUTE, retryAfterSeconds: 0 });
      clock.t += MINUTE;
      assert.equal((await c.hit('pulls:alice', 3, 10 * MINUTE)).remaining, 1);
      assert.equal((await c.hit('pulls:alice', 3, 10 * MINUTE)).remaining, 0);
      clock.t += 30_500;
      assert.deepEqual(await c.hit('pulls:alice', 3, 10 * MINUTE), {
        allowed: false,
        limit: 3,
        remaining: 0,
        resetAt: opened + 10 * MINUTE,
        retryAfterSeconds: 8 * 60 + 30, // 8 min 29.5 s, rounded up
      });
      clock.t = opened + 10 * MINUTE - 1;
      assert.equal((await c.hit('pulls:alice', 3, 10 * MINUTE)).allowed, false);
      clock.t += 1;
      assert.deepEqual(await c.hit('pulls:alice', 3, 10 * MINUTE), { allowed: true, limit: 3, remaining: 2, resetAt: clock.t + 10 * MINUTE, retryAfterSeconds: 0 });
    }));

    it('does not count refused hits', withCounters(async (c, clock) => {
      await c.hit('k', 1, MINUTE);
      for (let i = 0; i < 5; i++) assert.equal((await c.hit('k', 1, MINUTE)).allowed, false);
      clock.t += MINUTE;
      assert.equal((await c.hit('k', 1, MINUTE)).allowed, true);
      assert.equal((await c.hit('k', 1, MINUTE)).allowed, false);
    }));

    it('peeks without counting or opening a window', withCounters(async (c, clock) => {
      assert.deepEqual(await c.peek('k', 2, MINUTE), { allowed: true, limit: 2, remaining: 2, resetAt: clock.t + MINUTE, retryAfterSeconds: 0 });
      clock.t += 1_000;
      const first = await c.hit('k', 2, MINUTE);
      assert.equal(first.resetAt, clock.t + MINUTE, 'the window opened at the first hit, not at the peek');
      assert.deepEqual(await c.peek('k', 2, MINUTE), { ...first, remaining: 1 });
      await c.hit('k', 2, MINUTE);
      assert.deepEqual(await c.peek('k', 2, MINUTE), { allowed: false, limit: 2, remaining: 0, resetAt: first.resetAt, retryAfterSeconds: 60 });
      assert.equal((await c.peek('k', 2, MINUTE)).remaining, 0);
    }));

    it('keeps keys apart, and takes the limit of each call', withCounters(async (c) => {
      await c.hit('a', 1, MINUTE);
      assert.equal((await c.hit('a', 1, MINUTE)).allowed, false);
      assert.equal((await c.hit('b', 1, MINUTE)).allowed, true);
      // a raised limit (a plan upgraded) counts at once, within the same window
      assert.deepEqual(await c.hit('a', 3, MINUTE), { allowed: true, limit: 3, remaining: 1, resetAt: (await c.peek('a', 3, MINUTE)).resetAt, retryAfterSeconds: 0 });
    }));

    it('refuses everything with a limit of 0', withCounters(async (c) => {
      const state = await c.hit('zero', 0, MINUTE);
      assert.equal(state.allowed, false);
      assert.equal(state.remaining, 0);
      assert.equal(state.retryAfterSeconds, 60);
    }));

    it('counts concurrent hits exactly', withCounters(async (c) => {
      const states = await Promise.all(Array.from({ length: 50 }, () => c.hit('burst', 20, MINUTE)));
      assert.equal(states.filter((s) => s.allowed).length, 20);
      assert.deepEqual(states.filter((s) => s.allowed).map((s) => s.remaining).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
    }));

    it('takes keys of any length and content', withCounters(async (c) => {
      const long = `pulls:${'x'.repeat(1000)}`;
      await c.hit(long, 1, MINUTE);
      assert.equal((await c.hit(long, 1, MINUTE)).allowed, false);
      assert.equal((await c.hit(`${long}y`, 1, MINUTE)).allowed, true);
      await c.hit('ip:2001:db8::1 ü', 1, MINUTE);
      assert.equal((await c.hit('ip:2001:db8::1 ü', 1, MINUTE)).allowed, false);
    }));

    it('remembers members of a set until it expires; each remember extends the whole set', withCounters(async (c, clock) => {
      const key = `listed:${Math.random()}`;
      assert.equal(await c.recalls(key, 'sha256:a'), false);
      await c.remember(key, ['sha256:a', 'sha256:b'], 10 * MINUTE);
      assert.equal(await c.recalls(key, 'sha256:a'), true);
      assert.equal(await c.recalls(key, 'sha256:c'), false);
      assert.equal(await c.recalls(`${key}:other`, 'sha256:a'), false, 'per key');
      clock.t += 9 * MINUTE;
      await c.remember(key, ['sha256:c'], 10 * MINUTE);
      clock.t += 5 * MINUTE;
      assert.equal(await c.recalls(key, 'sha256:a'), true, 'extended with the set');
      assert.equal(await c.recalls(key, 'sha256:c'), true);
    }));

    it('refuses nonsense arguments', withCounters(async (c) => {
      await assert.rejects(c.hit('', 1, MINUTE));
      await assert.rejects(c.hit('k', -1, MINUTE));
      await assert.rejects(c.hit('k', 1.5, MINUTE));
      await assert.rejects(c.hit('k', 1, 0));
    }));
  });
}
