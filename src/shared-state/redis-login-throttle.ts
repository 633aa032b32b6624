import { createHash, randomBytes } from 'node:crypto';
import {
  checkThrottleOptions,
  IN_FLIGHT_RETRY_SECONDS,
  MemoryLoginThrottle,
  throttleDecision,
  throttleKey,
  type LoginAttempt,
  type LoginThrottle,
  type LoginThrottleOptions,
  type ThrottleDecision,
} from '../auth/login-throttle.js';
import type { RedisConnection } from './redis-connection.js';
import { RedisScript } from './redis-script.js';

/** Members of a key's sorted set that are reservations (attempts being checked), not failures. */
const RESERVATION = 'r:';
/** Ids of attempts reserved in this process while Redis was unavailable. */
const LOCAL = 'local:';

/** Lua: keeps the last ARGV[n] failures of KEYS[1]; reservations are never dropped for them. */
const TRIM_FAILURES = (limit: string) => `local failures = 0
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = #members, 1, -1 do
  if string.sub(members[i], 1, 2) ~= '${RESERVATION}' then
    failures = failures + 1
    if failures > tonumber(${limit}) then redis.call('ZREM', KEYS[1], members[i]) end
  end
end`;

/**
 * Reserves an attempt: drops what left the window and, unless the failures and reservations left
 * fill it, adds the reservation and lets Redis forget the key one window after it. Answers 1, or
 * when full the members with their scores (the caller tells why, and for how long).
 * KEYS: the key. ARGV: window start (entries at or before it are gone), now, the reservation
 * member, failures, window ms.
 */
const BEGIN = new RedisScript(
  'pierLoginBegin',
  1,
  `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`,
);

/**
 * Adds a failure: drops what left the window and the attempt's reservation (when given), adds this
 * failure, keeps the last `failures` failures, and lets Redis forget the key one window after it.
 * KEYS: the key. ARGV: window start (entries at or before it are gone), now, a unique member,
 * failures, window ms, the reservation member or ''.
 */
const FAIL = new RedisScript(
  'pierLoginFail',
  1,
  `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if ARGV[6] ~= '' then redis.call('ZREM', KEYS[1], ARGV[6]) end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
${TRIM_FAILURES('ARGV[4]')}
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`,
);

/**
 * A success: drops every failure and the attempt's reservation (when given); the reservations of
 * other attempts being checked stay. Redis deletes the key once it is empty.
 * KEYS: the key. ARGV: the reservation member or ''.
 */
const SUCCEED = new RedisScript(
  'pierLoginSucceed',
  1,
  `local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, member in ipairs(members) do
  if string.sub(member, 1, 2) ~= '${RESERVATION}' or member == ARGV[1] then redis.call('ZREM', KEYS[1], member) end
end
return 1`,
);

/**
 * The login throttle of every replica, in Redis: one sorted set per account and address, with the
 * failures and the reservations of attempts being checked (members `r:...`) scored by their time
 * (from the injected clock, so that every replica and test agree on the window), at most
 * `failures` of them once the reservations settle. A reservation is made in one script, so that
 * parallel attempts on any replicas are counted one by one; one never settled (a replica died
 * while checking) leaves with the window, as a failure would.
 *
 * While Redis is unavailable each replica counts in its own process (a login is never refused
 * because Redis is down); counting goes back to Redis when it answers again (the failures counted
 * meanwhile still count on the replica that saw them).
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

  async begin(account: string, address: string): Promise<LoginAttempt> {
    // failures this replica counted while Redis was away still count here until they expire
    const local = await this.#local.check(account, address);
    if (!local.allowed) return local;
    const now = this.#options.now();
    const { failures, windowMs } = this.#options;
    const member = `${RESERVATION}${randomBytes(12).toString('base64url')}`;
    const result = await this.#connection.attempt((client) =>
      BEGIN.run(client, [redisKey(account, address)], [now - windowMs, now, member, failures, Math.ceil(windowMs)]),
    );
    if (!result.ok) {
      const attempt = await this.#local.begin(account, address);
      return attempt.allowed ? { allowed: true, attempt: `${LOCAL}${attempt.attempt}` } : attempt;
    }
    if (result.value === 1) return { allowed: true, attempt: member };
    const decision = decide(result.value, this.#options, now);
    return decision.allowed ? { allowed: false, retryAfterSeconds: IN_FLIGHT_RETRY_SECONDS } : decision;
  }

  async check(account: string, address: string): Promise<ThrottleDecision> {
    const now = this.#options.now();
    const from = now - this.#options.windowMs;
    const key = redisKey(account, address);
    const result = await this.#connection.attempt((client) => client.zrangebyscore(key, `(${from}`, '+inf', 'WITHSCORES'));
    const local = await this.#local.check(account, address);
    if (!result.ok) return local;
    const shared = decide(result.value, this.#options, now);
    if (local.allowed) return shared;
    if (shared.allowed) return local;
    return { allowed: false, retryAfterSeconds: Math.max(local.retryAfterSeconds, shared.retryAfterSeconds) };
  }

  async fail(account: string, address: string, attempt?: string): Promise<void> {
    let reservation = attempt ?? '';
    if (reservation.startsWith(LOCAL)) {
      // reserved in process while Redis was away: the failure counts where counting is now
      await this.#local.release(account, address, reservation.slice(LOCAL.length));
      reservation = '';
    }
    const now = this.#options.now();
    const { failures, windowMs } = this.#options;
    const member = `${now}:${randomBytes(6).toString('base64url')}`;
    const result = await this.#connection.attempt((client) =>
      FAIL.run(client, [redisKey(account, address)], [now - windowMs, now, member, failures, Math.ceil(windowMs), reservation]),
    );
    // a reservation left in Redis meanwhile expires with the window
    if (!result.ok) await this.#local.fail(account, address);
  }

  async succeed(account: string, address: string, attempt?: string): Promise<void> {
    const local = attempt?.startsWith(LOCAL) ? attempt.slice(LOCAL.length) : undefined;
    // the replica's own count too: failures it counted while Redis was away
    await this.#local.succeed(account, address, local);
    const reservation = attempt === undefined || local !== undefined ? '' : attempt;
    await this.#connection.attempt((client) => SUCCEED.run(client, [redisKey(account, address)], [reservation]));
  }

  async release(account: string, address: string, attempt: string): Promise<void> {
    if (attempt.startsWith(LOCAL)) return this.#local.release(account, address, attempt.slice(LOCAL.length));
    await this.#connection.attempt((client) => client.zrem(redisKey(account, address), attempt));
  }
}

/** The decision for the members and scores of a key (`[member, score, ...]`, oldest first). */
function decide(reply: unknown, options: LoginThrottleOptions, now: number): ThrottleDecision {
  const flat = Array.isArray(reply) ? (reply as unknown[]) : [];
  const from = now - options.windowMs;
  const times: number[] = [];
  let reservations = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const time = Number(flat[i + 1]);
    if (!(time > from)) continue;
    if (String(flat[i]).startsWith(RESERVATION)) reservations++;
    else times.push(time);
  }
  return throttleDecision(times.slice(-options.failures), options.failures, options.windowMs, now, reservations);
}

/** Hashed: account names and addresses of any length and content make short, uniform keys. */
function redisKey(account: string, address: string): string {
  return `login:${createHash('sha256').update(throttleKey(account, address)).digest('base64url')}`;
}
