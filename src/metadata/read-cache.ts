/**
 * Answers of the hottest reads (a blob HEAD's link, a page of tags), kept while the database has
 * not changed at all. `changes()` is a value that moves with every write, by this connection or
 * any other (on SQLite: its `total_changes()` and `data_version`, 1 µs each), and any move drops
 * every answer: nothing is ever answered that a write could have changed since it was read, so no
 * write path has to know of this cache. What it buys is a read-mostly registry (pulls) answering
 * from memory; under pushes it is mostly empty, at the cost of the two counters per read.
 *
 * Where no such value exists (PostgreSQL: other replicas write unseen) the index reads through.
 * Answers are shared by every caller: they must be immutable (frozen).
 */
export class ReadCache {
  readonly #changes: () => unknown;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, unknown>();
  #token: unknown = undefined;

  constructor(changes: () => unknown, maxEntries = 20_000) {
    this.#changes = changes;
    this.#maxEntries = maxEntries;
  }

  async get<V>(key: string, read: () => Promise<V>): Promise<V> {
    const token = this.#changes();
    if (token !== this.#token) {
      this.#entries.clear();
      this.#token = token;
    }
    if (this.#entries.has(key)) return this.#entries.get(key) as V;
    const value = await read();
    // kept only if nothing was written while it was read: the answer might predate that write
    if (this.#changes() === token) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
      this.#entries.set(key, value);
    }
    return value;
  }
}
