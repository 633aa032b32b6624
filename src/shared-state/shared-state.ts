/**
 * State replicas share quickly — counters, caches and their invalidation: the login throttle, the
 * counters of rate limits, and the cache of hot manifests. In process by default (PIER_REDIS_URL
 * unset: one replica, nothing to install); in Redis when configured (PIER_REDIS_URL, every key
 * under PIER_REDIS_PREFIX), so that every replica counts against the same limits and sees a tag
 * moved on another at once.
 *
 * Redis is never needed to answer a request: while it is unavailable the throttle and counters
 * count in each replica's process and the manifest cache is bypassed, with one log line when it
 * goes and one when it is back (redis-connection.ts). What needs more than that (the index,
 * upload sessions and their ownership) lives in the database, not here.
 *
 * Layers: this directory holds adapters only: it implements ports of auth/ (LoginThrottle),
 * hub/ (Counters, for the pull limits) and registry/ (ManifestCache); server/ opens it (core.ts)
 * and wires it in. Nothing below server/ imports it.
 */
import pino, { type Logger } from 'pino';
import { MemoryLoginThrottle, type LoginThrottle } from '../auth/login-throttle.js';
import { noManifestCache, type Clock, type ManifestCache } from '../registry/ports.js';
import type { Counters } from '../hub/counters.js';
import { MemoryCounters } from './memory-counters.js';
import { MemoryManifestCache } from './memory-manifest-cache.js';
import type { RedisConnectionOptions } from './redis-connection.js';
import type { RedisManifestCacheOptions } from './redis-manifest-cache.js';

export interface SharedState {
  /** where it lives: 'memory' (this process) or 'redis' */
  readonly backend: 'memory' | 'redis';
  /** a login throttle with these limits (the clock is the state's) */
  loginThrottle(limits: { failures: number; windowMs: number }): LoginThrottle;
  readonly counters: Counters;
  /** hot manifests: in Redis when configured; in process only over a database that tells of other writers (see openSharedState) */
  readonly manifestCache: ManifestCache;
  /** resolves when the backend answers now (always in process); rejects with why not */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface SharedStateOptions {
  redis: { url?: string; prefix: string };
  clock: Clock;
  logger?: Logger;
  /**
   * Without Redis: a value that changes whenever another process changed the database (SQLite's
   * data_version), asked before each cached read. Given, manifests are cached in this process;
   * not given (PostgreSQL, where other replicas may write unseen), they are not cached.
   */
  databaseChanges?: () => Promise<unknown>;
  /** timeouts and backoff of the Redis connection (tests shorten them) */
  connection?: Pick<RedisConnectionOptions, 'commandTimeoutMs' | 'maxBackoffMs' | 'connectTimeoutMs' | 'probeIntervalMs'>;
  manifestCache?: Omit<RedisManifestCacheOptions, 'logger'>;
}

/**
 * Opens the shared state of config.redis. With Redis it connects, waiting at most a moment for
 * the first answer: a Redis that is down at start is logged, and used once it answers.
 *
 * Without Redis, manifests are cached in this process only when `databaseChanges` tells of
 * other writers (SQLite: a CLI command, another process on the same file): measured here, a
 * manifest GET over SQLite went from about 7,000 to 11,700 req/s with it (15,000 without the
 * check). Over PostgreSQL without Redis nothing is cached: another replica's change would go
 * unseen.
 */
export async function openSharedState(options: SharedStateOptions): Promise<SharedState> {
  const now = () => options.clock.now();
  const logger = options.logger ?? pino({ level: 'silent' });
  if (!options.redis.url) {
    return {
      backend: 'memory',
      loginThrottle: (limits) => new MemoryLoginThrottle({ ...limits, now }),
      counters: new MemoryCounters({ now }),
      manifestCache: options.databaseChanges ? new MemoryManifestCache({ now, changeToken: options.databaseChanges }) : noManifestCache,
      ping: async () => {},
      close: async () => {},
    };
  }
  // loaded only when configured: an installation without Redis does not pay for ioredis in memory
  const [{ RedisConnection }, { RedisCounters }, { RedisLoginThrottle }, { RedisManifestCache }] = await Promise.all([
    import('./redis-connection.js'),
    import('./redis-counters.js'),
    import('./redis-login-throttle.js'),
    import('./redis-manifest-cache.js'),
  ]);
  const connection = await RedisConnection.open({ url: options.redis.url, prefix: options.redis.prefix, logger, ...options.connection });
  const manifestCache = new RedisManifestCache(connection, { logger, ...options.manifestCache });
  return {
    backend: 'redis',
    loginThrottle: (limits) => new RedisLoginThrottle(connection, { ...limits, now }),
    counters: new RedisCounters(connection, { now }),
    manifestCache,
    ping: () => connection.ping(),
    async close() {
      manifestCache.close();
      await connection.close();
    },
  };
}
