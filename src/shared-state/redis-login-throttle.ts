import { createHash, randomBytes } from 'node:crypto';
import {
  checkThrottleOptions,
  MemoryLoginThrottle,
  throttleDecision,
  throttleKey,
  type LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleDecision,
} from '../auth/login-throttle.js';
import type { RedisConnection } from './redis-connection.js';
import { RedisScript } from './redis-script.js';

/**
 * Adds a failure: drops those that left the window, adds this one, keeps the last `failures`,
 * and lets Redis forget the key one window after the last failure.
 * KEYS: the key. ARGV: window start (failures at or before it are gone), now, a unique member,
 * failures, window ms.
 */
const FAIL = new RedisScript(
  'pierLoginFail',
  1,
  `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`,
);

/**
 * The login throttle of every replica, in Redis: one sorted set per account and address, the
 * failure times as scores (from the injected clock, so that every replica and test agree on the
 * window), at most `failures` members. While Redis is unavailable each replica counts in its own
 * process (a login is never refused because Redis is down); counting goes back to Redis when it
 * answers again (the failures counted meanwhile still count on the replica that saw them).
 */
export class RedisLoginThrottle implements LoginThrottle {
  readonly #connection: RedisConnection;
  readonly #options: LoginThrottleOptions;
  readonly #local: MemoryLoginThrottle;

  constructor(connection: RedisConnection, options: LoginThrottleOptions) {
    checkThrottleOptions(options);
    this.#connection = connection;
    this.#options = options;
    this.#local = new MemoryLoginThrottle(options);
  }

  async check(account: string, address: string): Promise<ThrottleDecision> {
    const now = this.#options.now();
    const from = now - this.#options.windowMs;
    const key = redisKey(account, address);
    const result = await this.#connection.attempt((client) => client.zrangebyscore(key, `(${from}`, '+inf', 'WITHSCORES'));
    // failures this replica counted while Redis was away still count here until they expire
    const local = await this.#local.check(account, address);
    if (!result.ok) return local;
    const times: number[] = [];
    for (let i = 1; i < result.value.length; i += 2) times.push(Number(result.value[i]));
    const shared = throttleDecision(times, this.#options.failures, this.#options.windowMs, now);
    if (local.allowed) return shared;
    if (shared.allowed) return local;
    return { allowed: false, retryAfterSeconds: Math.max(local.retryAfterSeconds, shared.retryAfterSeconds) };
  }

  async fail(account: string, address: string): Promise<void> {
    const now = this.#options.now();
    const { failures, windowMs } = this.#options;
    const member = `${now}:${randomBytes(6).toString('base64url')}`;
    const result = await this.#connection.attempt((client) =>
      FAIL.run(client, [redisKey(account, address)], [now - windowMs, now, member, failures, Math.ceil(windowMs)]),
    );
    if (!result.ok) await this.#local.fail(account, address);
  }

  async succeed(account: string, address: string): Promise<void> {
    // the replica's own count too: failures it counted while Redis was away
    await this.#local.succeed(account, address);
    await this.#connection.attempt((client) => client.del(redisKey(account, address)));
  }
}

/** Hashed: account names and addresses of any length and content make short, uniform keys. */
function redisKey(account: string, address: string): string {
  return `login:${createHash('sha256').update(throttleKey(account, address)).digest('base64url')}`;
}
