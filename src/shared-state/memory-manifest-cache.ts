import type { ManifestRecord } from '../metadata/registry-index.js';
import type { RepositoryName } from '../oci/names.js';
import type { ManifestCache, ManifestCacheRead } from '../registry/ports.js';

export interface MemoryManifestCacheOptions {
  /** epoch ms (entries expire after ttlMs) */
  now: () => number;
  /**
   * A value that changes when another process changed the database (SQLite's data_version),
   * asked before every read: then everything cached is dropped. Without it, only this process's
   * own changes would be seen, so the cache is only used with one.
   */
  changeToken: () => Promise<unknown>;
  /** default 60 s: changes are seen at once anyway; this bounds how long an unused entry stays */
  ttlMs?: number;
  /** larger manifests are not cached (default 256 KiB) */
  maxEntryBytes?: number;
  /** all entries together (default 32 MiB); past it the least recently used are dropped */
  maxBytes?: number;
}

interface Entry {
  repository: string;
  record: ManifestRecord;
  expiresAt: number;
}

const NO_FILL: ManifestCacheRead = { fill: async () => {} };

/**
 * Hot manifests in this process, for one replica over SQLite (no Redis): a manifest GET served
 * from memory instead of a query. This process's changes invalidate at once; another process's
 * (a CLI command on the same database) are seen through changeToken() before the next read, so
 * what data-dir.ts promises (a command's change counts in a running server at once) still holds.
 *
 * A fill is refused when anything was invalidated since its read began (a generation counter):
 * a read that raced with a change never caches what the change replaced.
 */
export class MemoryManifestCache implements ManifestCache {
  readonly #options: Required<Omit<MemoryManifestCacheOptions, 'changeToken'>> & Pick<MemoryManifestCacheOptions, 'changeToken'>;
  /** in least recently used order */
  readonly #entries = new Map<string, Entry>();
  readonly #byRepository = new Map<string, Set<string>>();
  #bytes = 0;
  #generation = 0;
  #token: unknown = undefined;
  #tokenRead = false;

  constructor(options: MemoryManifestCacheOptions) {
    this.#options = { ttlMs: 60_000, maxEntryBytes: 256 * 1024, maxBytes: 32 * 1024 * 1024, ...options };
  }

  async read(repository: RepositoryName, reference: string): Promise<ManifestCacheRead> {
    let token: unknown;
    try {
      token = await this.#options.changeToken();
    } catch {
      return NO_FILL;
    }
    if (!this.#tokenRead || token !== this.#token) {
      // another process changed the database: nothing cached can be trusted
      this.#clear();
      this.#token = token;
      this.#tokenRead = true;
    }
    const generation = this.#generation;
    const key = keyOf(repository, reference);
    const entry = this.#entries.get(key);
    if (entry) {
      if (entry.expiresAt > this.#options.now()) {
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        return { record: entry.record };
      }
      this.#remove(key, entry);
    }
    return {
      fill: async (record) => {
        if (generation !== this.#generation || record.content.length > this.#options.maxEntryBytes) return;
        const held = this.#entries.get(key);
        if (held) this.#remove(key, held);
        this.#entries.set(key, { repository, record, expiresAt: this.#options.now() + this.#options.ttlMs });
        let keys = this.#byRepository.get(repository);
        if (!keys) this.#byRepository.set(repository, (keys = new Set()));
        keys.add(key);
        this.#bytes += record.content.length;
        this.#evict();
      },
    };
  }

  async invalidate(repository: RepositoryName): Promise<void> {
    this.#generation++;
    for (const key of this.#byRepository.get(repository) ?? []) this.#remove(key, this.#entries.get(key)!);
  }

  /** Entries and bytes held (tests, metrics). */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }

  #clear(): void {
    this.#generation++;
    this.#entries.clear();
    this.#byRepository.clear();
    this.#bytes = 0;
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.record.content.length;
    const keys = this.#byRepository.get(entry.repository);
    keys?.delete(key);
    if (keys?.size === 0) this.#byRepository.delete(entry.repository);
  }

  #evict(): void {
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= this.#options.maxBytes) break;
      this.#remove(key, entry);
    }
  }
}

function keyOf(repository: string, reference: string): string {
  return `${repository}@${reference}`;
}
