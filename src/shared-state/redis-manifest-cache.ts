import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ManifestRecord } from '../metadata/registry-index.js';
import type { RepositoryName } from '../oci/names.js';
import type { ManifestCache, ManifestCacheRead } from '../registry/ports.js';
import type { RedisConnection } from './redis-connection.js';
import { RedisScript } from './redis-script.js';

export interface RedisManifestCacheOptions {
  logger: Logger;
  /** how long an entry lives (default 60 s) */
  ttlMs?: number;
  /** larger manifests are not cached (default 256 KiB) */
  maxEntryBytes?: number;
  /** while an invalidation could not be written, how often the global epoch bump is retried (default 1 s) */
  retryMs?: number;
}

/*
 * Hot manifests in Redis, by repository and tag or digest, shared by every replica.
 *
 * Why versions, and not deleting entries. A change must be seen by the very next read on any
 * replica, and a read that raced with a change must not cache what the change replaced: replica
 * B reads the old row, A commits the change and invalidates, then B stores the old row — a plain
 * "DEL on change, SET on miss" cache serves that stale row until it expires. So:
 *
 * - every repository has a version (`mc:v:<repo>`, a random token, never a counter that could
 *   come back to an old value after an expiry or an eviction); a change sets a new one after
 *   its transaction committed and before it answers (invalidate());
 * - every entry carries the version (and the epoch, below) it was filled under; a read takes the
 *   epoch, the version and the entry in one MGET, and an entry counts only if both match;
 * - a miss remembers the epoch and version it read, *before* the index is read, and the fill is
 *   one Lua script that stores the entry only if they are still the same: any change that
 *   committed after the read began has replaced the version by then (it does so before it
 *   answers), so a stale fill is refused. One round trip per hit; the check costs nothing more.
 *
 * The epoch (`mc:epoch`, one random token for the installation) covers what versions cannot:
 * changes made while Redis was unavailable (their invalidation was never written), and a Redis
 * restored from a snapshot with old versions. Each replica sets a new epoch each time it
 * reconnects to Redis, before it uses the cache again, and whenever it could not write an
 * invalidation (retried until it can). (Not at its first connection: it has changed nothing
 * yet. A Redis restored while no replica was connected brings back only entries younger than
 * ttlMs at the snapshot: entries expire at absolute times.) While it cannot reach
 * Redis it bypasses the cache. What no cache can know: a replica cut off from Redis while others
 * still reach it changes a tag; those others may serve the old manifest until that replica
 * reaches Redis again (it retries every second) — never longer than an entry lives (ttlMs).
 *
 * Keys are in one Redis (not a cluster: the script touches three keys that a cluster would put
 * in different slots). Nothing here throws: a failure is a miss, or a skipped fill.
 */

/** KEYS: epoch, version, entry. ARGV: epoch read, version read ('' for none), new epoch, new version, entry bytes, entry ttl, version ttl. */
const FILL = new RedisScript(
  'pierManifestFill',
  3,
  `local epoch = redis.call('GET', KEYS[1])
local version = redis.call('GET', KEYS[2])
if (epoch or '') ~= ARGV[1] or (version or '') ~= ARGV[2] then return 0 end
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[1], epoch)
end
version = version or ARGV[4]
redis.call('SET', KEYS[2], version, 'PX', ARGV[7])
redis.call('SET', KEYS[3], epoch .. '\\n' .. version .. '\\n' .. ARGV[5], 'PX', ARGV[6])
return 1`,
);

const EPOCH_KEY = 'mc:epoch';
const NEWLINE = 0x0a;

export class RedisManifestCache implements ManifestCache {
  readonly #connection: RedisConnection;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #versionTtlMs: number;
  readonly #maxEntryBytes: number;
  readonly #retryMs: number;
  /**
   * The connection generation this replica last set the epoch for. The first connection needs
   * none: this replica has changed nothing yet that Redis could have missed (changes made before
   * it are counted in #missed).
   */
  #epochGeneration = 1;
  /** invalidations that could not be written, and how many of them the last new epoch covers */
  #missed = 0;
  #missedCovered = 0;
  #bumping: Promise<boolean> | undefined;
  #retry: NodeJS.Timeout | undefined;
  readonly #stopListening: () => void;

  constructor(connection: RedisConnection, options: RedisManifestCacheOptions) {
    this.#connection = connection;
    this.#logger = options.logger;
    this.#ttlMs = options.ttlMs ?? 60_000;
    // a version outlives the entries filled under it
    this.#versionTtlMs = Math.max(2 * this.#ttlMs, 10 * 60_000);
    this.#maxEntryBytes = options.maxEntryBytes ?? 256 * 1024;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#stopListening = connection.onAvailable(() => void this.#ensureEpoch());
  }

  async read(repository: RepositoryName, reference: string): Promise<ManifestCacheRead> {
    if (!(await this.#ensureEpoch())) return NO_FILL;
    const generation = this.#connection.generation;
    const keys = [EPOCH_KEY, versionKey(repository), entryKey(repository, reference)];
    const result = await this.#connection.attempt((client) => client.mgetBuffer(...keys));
    // Redis went away and came back meanwhile: this replica has not set the new epoch yet
    if (!result.ok || !this.#usable(generation)) return NO_FILL;
    const [epochBytes, versionBytes, entry] = result.value;
    const epoch = epochBytes?.toString() ?? '';
    const version = versionBytes?.toString() ?? '';
    if (entry && epoch && version) {
      const record = decodeEntry(entry, epoch, version);
      if (record) return { record };
    }
    return {
      fill: async (record) => {
        if (record.content.length > this.#maxEntryBytes || !this.#usable(generation)) return;
        await this.#connection.attempt((client) =>
          FILL.run(client, keys, [epoch, version, token(), token(), encodeRecord(record), this.#ttlMs, this.#versionTtlMs]),
        );
      },
    };
  }

  async invalidate(repository: RepositoryName): Promise<void> {
    const result = await this.#connection.attempt((client) => client.set(versionKey(repository), token(), 'PX', this.#versionTtlMs));
    if (result.ok) return;
    // not written: replicas may still hold entries of this repository; a new epoch retires them all
    if (this.#missed === this.#missedCovered) {
      this.#logger.warn({ repository }, 'could not invalidate cached manifests in Redis: the whole cache is retired as soon as Redis answers');
    }
    this.#missed++;
    this.#scheduleRetry();
  }

  /** Stops retrying (the connection is closed by its owner). */
  close(): void {
    this.#stopListening();
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** Whether the cache may be used now: Redis is there, this replica set the epoch for this connection, no invalidation is missing. */
  #usable(generation = this.#connection.generation): boolean {
    return (
      this.#connection.available &&
      generation === this.#connection.generation &&
      this.#epochGeneration === generation &&
      this.#missed === this.#missedCovered
    );
  }

  /** #usable(), after setting a new epoch if that is what it takes. */
  #ensureEpoch(): Promise<boolean> | boolean {
    if (this.#usable()) return true;
    if (!this.#connection.available) return false;
    this.#bumping ??= this.#bumpEpoch().finally(() => (this.#bumping = undefined));
    return this.#bumping;
  }

  async #bumpEpoch(): Promise<boolean> {
    const generation = this.#connection.generation;
    const missed = this.#missed;
    const result = await this.#connection.attempt((client) => client.set(EPOCH_KEY, token()));
    if (!result.ok) {
      if (this.#missed !== this.#missedCovered) this.#scheduleRetry();
      return false;
    }
    this.#epochGeneration = generation;
    if (missed !== this.#missedCovered) {
      this.#missedCovered = missed;
      this.#logger.info('retired every cached manifest: Redis missed an invalidation');
    }
    return this.#usable();
  }

  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#missed !== this.#missedCovered) void this.#ensureEpoch();
    }, this.#retryMs);
    this.#retry.unref();
  }
}

const NO_FILL: ManifestCacheRead = { fill: async () => {} };

function versionKey(repository: string): string {
  return `mc:v:${repository}`;
}

/** Repository names hold no '@', tags no ':' and digests always one: `<repo>@<tag or digest>` is unambiguous. */
function entryKey(repository: string, reference: string): string {
  return `mc:m:${repository}@${reference}`;
}

function token(): string {
  return randomBytes(12).toString('base64url');
}

/** What FILL stores after `<epoch>\n<version>\n`: a JSON line of the fields, then the bytes. */
function encodeRecord(record: ManifestRecord): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify([record.digest, record.mediaType])}\n`), record.content]);
}

/** The record, if `entry` was filled under this epoch and version. */
function decodeEntry(entry: Buffer, epoch: string, version: string): ManifestRecord | undefined {
  const first = entry.indexOf(NEWLINE);
  const second = first < 0 ? -1 : entry.indexOf(NEWLINE, first + 1);
  const third = second < 0 ? -1 : entry.indexOf(NEWLINE, second + 1);
  if (third < 0) return undefined;
  if (entry.toString('utf8', 0, first) !== epoch || entry.toString('utf8', first + 1, second) !== version) return undefined;
  try {
    const [digest, mediaType] = JSON.parse(entry.toString('utf8', second + 1, third)) as [unknown, unknown];
    if (typeof digest !== 'string' || typeof mediaType !== 'string') return undefined;
    const content = entry.subarray(third + 1);
    return { digest, mediaType, size: content.length, content };
  } catch {
    return undefined;
  }
}
