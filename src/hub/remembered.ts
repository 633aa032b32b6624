/**
 * Answers read from the database and reused for `ttlMs` by this replica: what every request asks
 * and what changes seldom (an account's standing, a namespace's billing, the plans). A replica
 * that changes what an answer depends on forgets it at once (`forget`); the others reuse theirs
 * until it expires, which is how late they learn of the change. One read per key at a time: the
 * callers that ask meanwhile share it. A failed read is not kept, nor an answer `keep` refuses.
 */
export class Remembered<V> {
  readonly #entries = new Map<string, { until: number; value: Promise<V> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    /** most keys at once: past it the oldest answer is forgotten first */
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, read: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const now = this.now();
    const held = this.#entries.get(key);
    // an answer from the future (a clock set back) is as stale as an old one
    if (held && held.until > now && held.until - this.ttlMs <= now) return held.value;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    const entry = { until: now + this.ttlMs, value: read() };
    this.#entries.set(key, entry);
    const drop = () => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    };
    entry.value.then((value) => keep(value) || drop(), drop);
    return entry.value;
  }

  /** Forgets what was answered about `key`, or every answer. */
  forget(key?: string): void {
    if (key === undefined) this.#entries.clear();
    else this.#entries.delete(key);
  }
}
