/**
 * Counters with a limit per window, for rate limits (pulls per plan and client): the port the pull
 * limits use, and the rule its adapters share (src/shared-state/: in process, and Redis).
 *
 * A fixed window that opens at a key's first hit and lasts `windowMs`: up to `limit` hits are
 * allowed in it, then hits are refused (and not counted) until it ends, when the next hit opens a
 * new window. Cheap in Redis (one small hash per key, whatever the limit) and exact; a client
 * learns when its budget is whole again (`resetAt`), as GitHub's and Docker Hub's limits answer.
 * Times come from the caller's clock (each replica's own): replicas should keep their clocks in
 * sync, as they must for tokens anyway.
 */
export interface Counters {
  /** Counts one hit of `key`, unless the window's `limit` is reached (then it is refused, not counted). */
  hit(key: string, limit: number, windowMs: number): Promise<CounterState>;
  /** The state of `key` without counting (e.g. the headers of a HEAD, which is free). */
  peek(key: string, limit: number, windowMs: number): Promise<CounterState>;
  /**
   * Remembers `members` in the set `key` for `ttlMs` from now (each call extends the whole set):
   * which platform manifests a client may fetch by digest for free, having fetched their index.
   */
  remember(key: string, members: readonly string[], ttlMs: number): Promise<void>;
  /** Whether `member` is in the set `key`, unexpired. */
  recalls(key: string, member: string): Promise<boolean>;
}

export interface CounterState {
  /** whether this hit was counted (hit), or whether a hit would be now (peek) */
  allowed: boolean;
  limit: number;
  /** hits left in the window */
  remaining: number;
  /** epoch ms when the window ends (a fresh window: now + windowMs) */
  resetAt: number;
  /** when refused: whole seconds until the window ends (at least 1); 0 when allowed */
  retryAfterSeconds: number;
}

/** A window: when it opened and how many hits it counted. */
export interface CounterWindow {
  start: number;
  count: number;
}

export function checkCounterArguments(key: string, limit: number, windowMs: number): void {
  if (key.length === 0) throw new Error('a counter needs a key');
  if (!Number.isInteger(limit) || limit < 0) throw new Error('limit must be an integer >= 0');
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new Error('windowMs must be positive');
}

/** The window in force at `now`: `current` if it has not ended, else a fresh empty one. */
export function windowAt(current: CounterWindow | undefined, windowMs: number, now: number): CounterWindow {
  return current && now < current.start + windowMs && now >= current.start - windowMs ? current : { start: now, count: 0 };
}

/** What a hit (count 1) or a peek (count 0) answers for the window in force. */
export function counterState(window: CounterWindow, limit: number, windowMs: number, now: number, counting: boolean): { state: CounterState; counted: boolean } {
  const resetAt = window.start + windowMs;
  const allowed = window.count < limit;
  const counted = allowed && counting;
  const count = window.count + (counted ? 1 : 0);
  return {
    counted,
    state: {
      allowed,
      limit,
      remaining: Math.max(0, limit - count),
      resetAt,
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((resetAt - now) / 1000)),
    },
  };
}
