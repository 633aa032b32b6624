import { checkCounterArguments, counterState, windowAt, type Counters, type CounterState, type CounterWindow } from '../hub/counters.js';

interface Entry extends CounterWindow {
  end: number;
}

/**
 * Counters in this process: one replica, or the fallback while Redis is down. Holds at most
 * `maxKeys` windows (default 100,000): ended windows are dropped as new ones open, and past the
 * cap the oldest windows are forgotten (their keys start afresh).
 */
export class MemoryCounters implements Counters {
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** ordered by when each window opened */
  readonly #windows = new Map<string, Entry>();
  /** remembered sets, ordered by when each was last extended */
  readonly #sets = new Map<string, { end: number; members: Set<string> }>();

  constructor(options: { now: () => number; maxKeys?: number }) {
    this.#now = options.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<CounterState> {
    return this.#apply(key, limit, windowMs, true);
  }

  async peek(key: string, limit: number, windowMs: number): Promise<CounterState> {
    return this.#apply(key, limit, windowMs, false);
  }

  async remember(key: string, members: readonly string[], ttlMs: number): Promise<void> {
    const now = this.#now();
    const held = this.#sets.get(key);
    const set = held && held.end > now ? held.members : new Set<string>();
    for (const member of members) set.add(member);
    this.#sets.delete(key);
    this.#sets.set(key, { end: now + ttlMs, members: set });
    for (const [k, entry] of this.#sets) {
      if (entry.end > now) break;
      this.#sets.delete(k);
    }
    while (this.#sets.size > this.#maxKeys) this.#sets.delete(this.#sets.keys().next().value!);
  }

  async recalls(key: string, member: string): Promise<boolean> {
    const held = this.#sets.get(key);
    return held !== undefined && held.end > this.#now() && held.members.has(member);
  }

  /** Windows currently held (tests, metrics). */
  get size(): number {
    return this.#windows.size;
  }

  #apply(key: string, limit: number, windowMs: number, counting: boolean): CounterState {
    checkCounterArguments(key, limit, windowMs);
    const now = this.#now();
    const held = this.#windows.get(key);
    const window = windowAt(held, windowMs, now);
    const { state, counted } = counterState(window, limit, windowMs, now, counting);
    if (counted) {
      if (window === held) {
        held.count++;
      } else {
        this.#windows.delete(key);
        this.#windows.set(key, { start: window.start, count: 1, end: window.start + windowMs });
        this.#evict(now);
      }
    }
    return state;
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#windows) {
      if (entry.end > now) break;
      this.#windows.delete(key);
    }
    while (this.#windows.size > this.#maxKeys) this.#windows.delete(this.#windows.keys().next().value!);
  }
}
