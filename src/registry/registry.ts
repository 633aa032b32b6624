import type { RegistryIndex } from '../metadata/registry-index.js';
import type { GcIndex } from '../metadata/gc-index.js';
import type { ProxyIndex } from '../metadata/proxy-index.js';
import { OciError } from '../oci/errors.js';
import type { RepositoryName } from '../oci/names.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BlobService } from './blobs.js';
import { ListingService } from './listings.js';
import { DEFAULT_MANIFEST_MAX_BYTES, ManifestService } from './manifests.js';
import { noEvents, noManifestCache, openPushGate, systemClock, type Clock, type ManifestCache, type PushGate, type RegistryEvents } from './ports.js';
import { ProxyCache } from './proxy/proxy-cache.js';
import type { ProxyDirectory, ProxyObserver } from './proxy/ports.js';
import { UploadService } from './uploads.js';
import { GarbageCollector, type GcHooks } from './gc/collector.js';

export const DEFAULT_PROXY_IDLE_MS = 30 * 24 * 3_600_000;

export interface RegistryOptions {
  index: RegistryIndex;
  store: BlobStore;
  gate?: PushGate;
  events?: RegistryEvents;
  clock?: Clock;
  uploadTtlMs?: number;
  /** open upload sessions a namespace may hold at once (default 100) */
  maxOpenUploads?: number;
  manifestMaxBytes?: number;
  /** hot manifests (default: none, every read goes to the index) */
  manifestCache?: ManifestCache;
  /** the pull-through cache: which repositories are copies of an upstream's (default: none) */
  proxies?: { directory: ProxyDirectory; index: ProxyIndex; observer?: ProxyObserver; spoolDir?: string };
  /** the garbage collector's queries (default: no collector) */
  gcIndex?: GcIndex;
  /** collector settings: cached repositories nobody read for `proxyIdleMs` are dropped (default 30 days); test hooks */
  gc?: { proxyIdleMs?: number; graceMs?: number; hooks?: GcHooks; leaseMs?: number };
}

/** The registry engine, no HTTP: what /v2 and the CLI call. */
export class Registry {
  readonly uploads: UploadService;
  readonly blobs: BlobService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  /** the pull-through cache, when proxy namespaces are wired in */
  readonly proxy: ProxyCache | undefined;
  /** online garbage collection, when its index is wired in */
  readonly gc: GarbageCollector | undefined;
  private readonly index: RegistryIndex;
  private readonly store: BlobStore;
  private readonly manifestCache: ManifestCache;

  constructor(options: RegistryOptions) {
    const { index, store } = options;
    const events = options.events ?? noEvents;
    const clock = options.clock ?? systemClock;
    const manifestMaxBytes = options.manifestMaxBytes ?? DEFAULT_MANIFEST_MAX_BYTES;
    const proxies = options.proxies;
    this.proxy = proxies && new ProxyCache({ ...proxies, proxyIndex: proxies.index, index, store, clock, maxManifestBytes: manifestMaxBytes });
    const gate = this.proxy ? refuseProxyPushes(options.gate ?? openPushGate, this.proxy) : (options.gate ?? openPushGate);
    this.uploads = new UploadService(index, store, gate, events, clock, { ttlMs: options.uploadTtlMs ?? 24 * 3600_000, maxOpenSessions: options.maxOpenUploads });
    this.blobs = new BlobService(index, store, this.uploads, gate, events, clock, this.proxy);
    this.manifestCache = options.manifestCache ?? noManifestCache;
    this.manifests = new ManifestService(index, gate, events, clock, manifestMaxBytes, this.manifestCache, store, this.proxy);
    this.listings = new ListingService(index, this.proxy);
    this.gc =
      options.gcIndex &&
      new GarbageCollector({
        gcIndex: options.gcIndex,
        index,
        store,
        clock,
        manifestCache: this.manifestCache,
        ...(proxies ? { proxies: { index: proxies.index, idleMs: options.gc?.proxyIdleMs ?? DEFAULT_PROXY_IDLE_MS } } : {}),
        ...(options.gc?.hooks ? { hooks: options.gc.hooks } : {}),
        ...(options.gc?.leaseMs ? { leaseMs: options.gc.leaseMs } : {}),
        ...(options.gc?.graceMs !== undefined ? { graceMs: options.gc.graceMs } : {}),
      });
    this.index = index;
    this.store = store;
  }

  /**
   * The repository that reads of `name` go to: itself, or the copy in the mirror namespace when
   * Pier serves as a registry mirror and `name` does not exist here (`library/nginx` ->
   * `hub/library/nginx`). Writes always go to `name`.
   */
  async readName(name: RepositoryName): Promise<RepositoryName> {
    return (await this.proxy?.mirrored(name)) ?? name;
  }

  /** Deletes a repository with its tags, manifests and blob links (bytes stay for garbage collection). */
  async deleteRepository(name: string): Promise<void> {
    const uploads = await this.index.deleteRepository(name);
    // before the deletion answers: no replica serves a manifest of it from the cache afterwards
    await this.manifestCache.invalidate(name as RepositoryName);
    for (const uploadId of uploads) await this.store.abortUpload(uploadId);
  }

  /** Deletes every repository of a namespace (an account deleted with its repositories). */
  async deleteNamespace(namespace: string): Promise<string[]> {
    const names = await this.index.repositoriesInNamespace(namespace);
    for (const name of names) await this.deleteRepository(name);
    return names;
  }
}

/** Nobody pushes into a proxy namespace (administrators included): its content is the upstream's. */
function refuseProxyPushes(gate: PushGate, proxy: ProxyCache): PushGate {
  return {
    async check(push) {
      const upstream = await proxy.upstreamOf(push.repository);
      if (upstream !== undefined) {
        throw new OciError('DENIED', `${push.repository.split('/')[0]} is a pull-through cache of ${upstream}: pushes are refused there; push to another namespace`);
      }
      return gate.check(push);
    },
    ...(gate.tagGuard && { tagGuard: gate.tagGuard.bind(gate) }),
  };
}
