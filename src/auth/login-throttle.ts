/**
 * Failed logins, counted per account and client address together: a client that keeps guessing
 * one account's password gets 429 for a while, and a stranger elsewhere cannot lock the account
 * out of its owner's own address.
 *
 * A sliding window: each key keeps the times of its last `failures` failures; it is blocked while
 * `failures` of them fall within `windowMs`, until the oldest of those leaves the window.
 *
 * `LoginThrottle` is the port; `MemoryLoginThrottle` counts in this process (one replica, or the
 * fallback while Redis is down); src/shared-state/redis-login-throttle.ts counts for every replica
 * in Redis with the same semantics (login-throttle.suite.ts runs on both).
 */
export interface LoginThrottle {
  /** Whether this account may try to log in from this address now. */
  check(account: string, address: string): Promise<ThrottleDecision>;
  /** Counts a failed login. */
  fail(account: string, address: string): Promise<void>;
  /** A successful login forgets the failures of this account from this address. */
  succeed(account: string, address: string): Promise<void>;
}

export interface LoginThrottleOptions {
  /** failures allowed per account and address within the window; the next attempt is refused */
  failures: number;
  windowMs: number;
  /** epoch ms */
  now: () => number;
}

export interface MemoryLoginThrottleOptions extends LoginThrottleOptions {
  /** most keys held at once; past it the least recently failed are forgotten (default 100,000) */
  maxKeys?: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const ACCOUNT_MAX_LENGTH = 256;

export function checkThrottleOptions(options: LoginThrottleOptions): void {
  if (!Number.isInteger(options.failures) || options.failures < 1) throw new Error('failures must be a positive integer');
  if (!(options.windowMs > 0)) throw new Error('windowMs must be positive');
}

/** One key per account and address: account names compare case-insensitively. */
export function throttleKey(account: string, address: string): string {
  return `${account.trim().toLowerCase().slice(0, ACCOUNT_MAX_LENGTH)}\u0000${address}`;
}

/** The decision for the live failure times of a key (oldest first, at most `failures` of them). */
export function throttleDecision(times: readonly number[], failures: number, windowMs: number, now: number): ThrottleDecision {
  if (times.length < failures) return { allowed: true };
  // the oldest failure that still counts: once it leaves the window, one attempt is free again
  const oldest = times[times.length - failures]!;
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)) };
}

export class MemoryLoginThrottle implements LoginThrottle {
  readonly #failures: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** key -> failure times, oldest first; the Map is ordered by each key's latest failure */
  readonly #entries = new Map<string, number[]>();

  constructor(options: MemoryLoginThrottleOptions) {
    checkThrottleOptions(options);
    this.#failures = options.failures;
    this.#windowMs = options.windowMs;
    this.#now = options.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  async check(account: string, address: string): Promise<ThrottleDecision> {
    const now = this.#now();
    return throttleDecision(this.#live(throttleKey(account, address), now) ?? [], this.#failures, this.#windowMs, now);
  }

  async fail(account: string, address: string): Promise<void> {
    const now = this.#now();
    const key = throttleKey(account, address);
    const times = this.#live(key, now) ?? [];
    times.push(now);
    if (times.length > this.#failures) times.splice(0, times.length - this.#failures);
    // re-insert: the Map stays ordered by latest failure, so expired keys are all at its front
    this.#entries.delete(key);
    this.#entries.set(key, times);
    this.#evict(now);
  }

  async succeed(account: string, address: string): Promise<void> {
    this.#entries.delete(throttleKey(account, address));
  }

  /** Keys currently held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** The failures of `key` still within the window, or undefined (and the key dropped) when none. */
  #live(key: string, now: number): number[] | undefined {
    const times = this.#entries.get(key);
    if (!times) return undefined;
    const from = now - this.#windowMs;
    let drop = 0;
    while (drop < times.length && times[drop]! <= from) drop++;
    if (drop === times.length) {
      this.#entries.delete(key);
      return undefined;
    }
    if (drop > 0) times.splice(0, drop);
    return times;
  }

  /** Drops expired keys from the front, then the least recently failed beyond maxKeys. */
  #evict(now: number): void {
    const from = now - this.#windowMs;
    for (const [key, times] of this.#entries) {
      if (times[times.length - 1]! > from) break;
      this.#entries.delete(key);
    }
    while (this.#entries.size > this.#maxKeys) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
