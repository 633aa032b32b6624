import { createHash } from 'node:crypto';
import { checkCounterArguments, counterState, windowAt, type Counters, type CounterState } from '../hub/counters.js';
import { MemoryCounters } from './memory-counters.js';
import type { RedisConnection } from './redis-connection.js';
import { RedisScript } from './redis-script.js';

/**
 * One hit (or a peek) on a window, atomically: the window in force (a fresh one once the stored
 * one ended: the rule of counters.ts windowAt), counted if below the limit. Returns the window as
 * it was before this hit; the caller derives the answer with counterState(), as in process.
 * KEYS: the hash {s: start, n: count}. ARGV: now, limit, window ms, 1 to count or 0 to peek.
 */
const HIT = new RedisScript(
  'pierCounterHit',
  1,
  `local held = redis.call('HMGET', KEYS[1], 's', 'n')
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local win = tonumber(ARGV[3])
local s = held[1]
local n = tonumber(held[2])
if not s or not n or now >= tonumber(s) + win or now < tonumber(s) - win then
  s = ARGV[1]
  n = 0
end
if n < limit and ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 's', s, 'n', n + 1)
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(tonumber(s) + win - now)))
end
return {tonumber(s), n}`,
);

/**
 * Counters shared by every replica, in Redis. While Redis is unavailable each replica counts in
 * its own process (limits then hold per replica); counting goes back to Redis when it answers.
 */
export class RedisCounters implements Counters {
  readonly #connection: RedisConnection;
  readonly #now: () => number;
  readonly #local: MemoryCounters;

  constructor(connection: RedisConnection, options: { now: () => number }) {
    this.#connection = connection;
    this.#now = options.now;
    this.#local = new MemoryCounters(options);
  }

  hit(key: string, limit: number, windowMs: number): Promise<CounterState> {
    return this.#apply(key, limit, windowMs, true);
  }

  peek(key: string, limit: number, windowMs: number): Promise<CounterState> {
    return this.#apply(key, limit, windowMs, false);
  }

  async remember(key: string, members: readonly string[], ttlMs: number): Promise<void> {
    if (members.length === 0) return;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const result = await this.#connection.attempt((client) => client.multi().sadd(setKey(key), ...members).pexpire(setKey(key), ttl).exec());
    if (!result.ok) await this.#local.remember(key, members, ttl);
  }

  async recalls(key: string, member: string): Promise<boolean> {
    const result = await this.#connection.attempt((client) => client.sismember(setKey(key), member));
    // while Redis is away, what this replica remembered meanwhile
    if (!result.ok) return this.#local.recalls(key, member);
    return result.value === 1 || (await this.#local.recalls(key, member));
  }

  async #apply(key: string, limit: number, windowMs: number, counting: boolean): Promise<CounterState> {
    checkCounterArguments(key, limit, windowMs);
    const window = Math.ceil(windowMs);
    const now = this.#now();
    const result = await this.#connection.attempt(
      async (client) => (await HIT.run(client, [redisKey(key)], [now, limit, window, counting ? 1 : 0])) as [number, number],
    );
    if (!result.ok) return counting ? this.#local.hit(key, limit, window) : this.#local.peek(key, limit, window);
    const [start, count] = result.value;
    return counterState(windowAt({ start, count }, window, now), limit, window, now, counting).state;
  }
}

function setKey(key: string): string {
  return key.length <= 100 ? `set:${key}` : `set:#${createHash('sha256').update(key).digest('base64url')}`;
}

/** Keys of any length make short keys; short ones stay readable. */
function redisKey(key: string): string {
  return key.length <= 100 ? `count:${key}` : `count:#${createHash('sha256').update(key).digest('base64url')}`;
}
