/**
 * Failed logins, counted per account and client address together: a client that keeps guessing
 * one account's password gets 429 for a while, and a stranger elsewhere cannot lock the account
 * out of its owner's own address.
 *
 * A sliding window: each key keeps the times of its last `failures` failures; it is blocked while
 * `failures` of them fall within `windowMs`, until the oldest of those leaves the window.
 *
 * An attempt is a reservation, so that parallel guesses cannot all slip through while the
 * password is being checked: `begin` counts the attempt at once (atomically: in one Redis script,
 * or synchronously in process) and refuses it when the failures and the attempts still being
 * checked fill the window; the outcome then settles it: `fail` turns the reservation into a
 * failure, `succeed` forgets the failures and drops the reservation, `release` drops it alone (the
 * check could not be made). A reservation that is never settled (a crash) expires with the window,
 * like a failure: it never locks anyone out for longer. `attemptLogin` does the three steps.
 *
 * `LoginThrottle` is the port; `MemoryLoginThrottle` counts in this process (one replica, or the
 * fallback while Redis is down); src/shared-state/redis-login-throttle.ts counts for every replica
 * in Redis with the same semantics (login-throttle.suite.ts runs on both).
 */
export interface LoginThrottle {
  /**
   * Reserves an attempt of this account from this address, or refuses it: at most `failures`
   * failures and attempts being checked count within the window. Settle an allowed attempt with
   * `fail`, `succeed` or `release`.
   */
  begin(account: string, address: string): Promise<LoginAttempt>;
  /** Counts a failed login; given the attempt from `begin`, its reservation becomes the failure. */
  fail(account: string, address: string, attempt?: string): Promise<void>;
  /**
   * A successful login forgets the failures of this account from this address, and drops the
   * reservation of its attempt (other attempts being checked still count).
   */
  succeed(account: string, address: string, attempt?: string): Promise<void>;
  /** Drops the reservation of an attempt whose check could not be made (an error): neither failure nor success. */
  release(account: string, address: string, attempt: string): Promise<void>;
  /** Whether `begin` would allow an attempt now, counting nothing (for tests and operators). */
  check(account: string, address: string): Promise<ThrottleDecision>;
}

export interface LoginThrottleOptions {
  /** failures allowed per account and address within the window; the next attempt is refused */
  failures: number;
  windowMs: number;
  /** epoch ms */
  now: () => number;
}

export interface MemoryLoginThrottleOptions extends LoginThrottleOptions {
  /** most keys held at once; past it the least recently used are forgotten (default 100,000) */
  maxKeys?: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** An allowed attempt carries the id of its reservation, to give to `fail`, `succeed` or `release`. */
export type LoginAttempt = { allowed: true; attempt: string } | { allowed: false; retryAfterSeconds: number };

/**
 * Retry-After when attempts still being checked fill the window: they settle within moments
 * (a password check takes tens of milliseconds), as a success or as failures.
 */
export const IN_FLIGHT_RETRY_SECONDS = 1;

const ACCOUNT_MAX_LENGTH = 256;

export function checkThrottleOptions(options: LoginThrottleOptions): void {
  if (!Number.isInteger(options.failures) || options.failures < 1) throw new Error('failures must be a positive integer');
  if (!(options.windowMs > 0)) throw new Error('windowMs must be positive');
}

/** One key per account and address: account names compare case-insensitively. */
export function throttleKey(account: string, address: string): string {
  return `${account.trim().toLowerCase().slice(0, ACCOUNT_MAX_LENGTH)}\u0000${address}`;
}

/**
 * The decision for the live failure times of a key (oldest first, at most `failures` of them) and
 * the number of its live reservations (attempts being checked).
 */
export function throttleDecision(
  times: readonly number[],
  failures: number,
  windowMs: number,
  now: number,
  reservations = 0,
): ThrottleDecision {
  if (times.length + reservations < failures) return { allowed: true };
  // full only with the attempts being checked: they settle in moments
  if (times.length < failures) return { allowed: false, retryAfterSeconds: IN_FLIGHT_RETRY_SECONDS };
  // the oldest failure that still counts: once it leaves the window, one attempt is free again
  const oldest = times[times.length - failures]!;
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)) };
}

/**
 * How long an attempt waits for the attempts being checked before it is refused. Ten clients
 * sending the right password at once (Kubernetes nodes, CI jobs, podman with a stored password)
 * are not failures: they wait a moment for the checks ahead of them instead of a 429. Wrong
 * guesses waiting alike gain nothing: once the ones ahead failed, the window is full of failures
 * and the rest are refused without being checked.
 */
export const IN_FLIGHT_MAX_WAIT_MS = 10_000;

/**
 * `begin`, waiting while only attempts being checked (or a failure leaving the window within a
 * second) stand in the way; refused at once when failures fill the window.
 */
async function beginWhenSettled(throttle: LoginThrottle, account: string, address: string, maxWaitMs: number): Promise<LoginAttempt> {
  const deadline = Date.now() + maxWaitMs;
  let pause = 5;
  for (;;) {
    const attempt = await throttle.begin(account, address);
    if (attempt.allowed || attempt.retryAfterSeconds > IN_FLIGHT_RETRY_SECONDS || Date.now() + pause > deadline) return attempt;
    // a little jitter, so that waiting attempts do not all ask again at the same moment
    await new Promise((resolve) => setTimeout(resolve, pause + Math.random() * pause));
    pause = Math.min(pause * 2, 100);
  }
}

export type LoginOutcome<T> =
  | { outcome: 'refused'; retryAfterSeconds: number }
  | { outcome: 'wrong' }
  | { outcome: 'right'; value: T };

/**
 * One throttled login: reserves the attempt, runs `check` (the account's value when the
 * credentials are right, undefined when wrong) and settles the reservation by its outcome. When
 * `check` throws, the reservation is released and the error rethrown: a database error is no
 * failed login.
 */
export async function attemptLogin<T>(
  throttle: LoginThrottle,
  account: string,
  address: string,
  check: () => Promise<T | undefined>,
  options: { maxWaitMs?: number } = {},
): Promise<LoginOutcome<T>> {
  const attempt = await beginWhenSettled(throttle, account, address, options.maxWaitMs ?? IN_FLIGHT_MAX_WAIT_MS);
  if (!attempt.allowed) return { outcome: 'refused', retryAfterSeconds: attempt.retryAfterSeconds };
  let value: T | undefined;
  try {
    value = await check();
  } catch (error) {
    await throttle.release(account, address, attempt.attempt);
    throw error;
  }
  if (value === undefined) {
    await throttle.fail(account, address, attempt.attempt);
    return { outcome: 'wrong' };
  }
  await throttle.succeed(account, address, attempt.attempt);
  return { outcome: 'right', value };
}

interface Entry {
  /** epoch ms: when the failure was counted, or the attempt began */
  time: number;
  /** the id of a reservation (an attempt being checked); a failure has none */
  attempt?: string;
}

export class MemoryLoginThrottle implements LoginThrottle {
  readonly #failures: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** key -> failures and reservations, oldest first; the Map is ordered by each key's latest entry */
  readonly #entries = new Map<string, Entry[]>();
  #attempts = 0;

  constructor(options: MemoryLoginThrottleOptions) {
    checkThrottleOptions(options);
    this.#failures = options.failures;
    this.#windowMs = options.windowMs;
    this.#now = options.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  async begin(account: string, address: string): Promise<LoginAttempt> {
    // nothing awaited between the decision and the reservation: parallel attempts count one by one
    const now = this.#now();
    const key = throttleKey(account, address);
    const entries = this.#live(key, now) ?? [];
    const decision = this.#decide(entries, now);
    if (!decision.allowed) return decision;
    const attempt = `m${++this.#attempts}`;
    entries.push({ time: now, attempt });
    this.#store(key, entries, now);
    return { allowed: true, attempt };
  }

  async check(account: string, address: string): Promise<ThrottleDecision> {
    const now = this.#now();
    return this.#decide(this.#live(throttleKey(account, address), now) ?? [], now);
  }

  async fail(account: string, address: string, attempt?: string): Promise<void> {
    const now = this.#now();
    const key = throttleKey(account, address);
    const entries = this.#live(key, now) ?? [];
    if (attempt !== undefined) removeAttempt(entries, attempt);
    entries.push({ time: now });
    // only the last `failures` failures can count; a reservation is never dropped for them
    let excess = -this.#failures;
    for (const entry of entries) if (entry.attempt === undefined) excess++;
    for (let i = 0; excess > 0; ) {
      if (entries[i]!.attempt === undefined) {
        entries.splice(i, 1);
        excess--;
      } else {
        i++;
      }
    }
    this.#store(key, entries, now);
  }

  async succeed(account: string, address: string, attempt?: string): Promise<void> {
    const key = throttleKey(account, address);
    const entries = this.#entries.get(key);
    if (!entries) return;
    // the other attempts being checked still count
    const kept = entries.filter((entry) => entry.attempt !== undefined && entry.attempt !== attempt);
    if (kept.length === 0) this.#entries.delete(key);
    else this.#entries.set(key, kept);
  }

  async release(account: string, address: string, attempt: string): Promise<void> {
    const key = throttleKey(account, address);
    const entries = this.#entries.get(key);
    if (!entries) return;
    removeAttempt(entries, attempt);
    if (entries.length === 0) this.#entries.delete(key);
  }

  /** Keys currently held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #decide(entries: readonly Entry[], now: number): ThrottleDecision {
    const times: number[] = [];
    let reservations = 0;
    for (const entry of entries) {
      if (entry.attempt === undefined) times.push(entry.time);
      else reservations++;
    }
    return throttleDecision(times, this.#failures, this.#windowMs, now, reservations);
  }

  /** The entries of `key` still within the window, or undefined (and the key dropped) when none. */
  #live(key: string, now: number): Entry[] | undefined {
    const entries = this.#entries.get(key);
    if (!entries) return undefined;
    const from = now - this.#windowMs;
    let drop = 0;
    while (drop < entries.length && entries[drop]!.time <= from) drop++;
    if (drop === entries.length) {
      this.#entries.delete(key);
      return undefined;
    }
    if (drop > 0) entries.splice(0, drop);
    return entries;
  }

  /** Re-inserts: the Map stays ordered by latest entry, so expired keys are all at its front. */
  #store(key: string, entries: Entry[], now: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, entries);
    this.#evict(now);
  }

  /** Drops expired keys from the front, then the least recently used beyond maxKeys. */
  #evict(now: number): void {
    const from = now - this.#windowMs;
    for (const [key, entries] of this.#entries) {
      if (entries[entries.length - 1]!.time > from) break;
      this.#entries.delete(key);
    }
    while (this.#entries.size > this.#maxKeys) this.#entries.delete(this.#entries.keys().next().value!);
  }
}

function removeAttempt(entries: Entry[], attempt: string): void {
  const index = entries.findIndex((entry) => entry.attempt === attempt);
  if (index !== -1) entries.splice(index, 1);
}
