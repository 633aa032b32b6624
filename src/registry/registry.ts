import type { RegistryIndex } from '../metadata/registry-index.js';
import type { RepositoryName } from '../oci/names.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BlobService } from './blobs.js';
import { ListingService } from './listings.js';
import { DEFAULT_MANIFEST_MAX_BYTES, ManifestService } from './manifests.js';
import { noEvents, noManifestCache, openPushGate, systemClock, type Clock, type ManifestCache, type PushGate, type RegistryEvents } from './ports.js';
import { UploadService } from './uploads.js';

export interface RegistryOptions {
  index: RegistryIndex;
  store: BlobStore;
  gate?: PushGate;
  events?: RegistryEvents;
  clock?: Clock;
  uploadTtlMs?: number;
  manifestMaxBytes?: number;
  /** hot manifests (default: none, every read goes to the index) */
  manifestCache?: ManifestCache;
}

/** The registry engine, no HTTP: what /v2 and the CLI call. */
export class Registry {
  readonly uploads: UploadService;
  readonly blobs: BlobService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  private readonly index: RegistryIndex;
  private readonly store: BlobStore;
  private readonly manifestCache: ManifestCache;

  constructor(options: RegistryOptions) {
    const { index, store } = options;
    const gate = options.gate ?? openPushGate;
    const events = options.events ?? noEvents;
    const clock = options.clock ?? systemClock;
    this.uploads = new UploadService(index, store, gate, events, clock, { ttlMs: options.uploadTtlMs ?? 24 * 3600_000 });
    this.blobs = new BlobService(index, store, this.uploads, gate, events, clock);
    this.manifestCache = options.manifestCache ?? noManifestCache;
    this.manifests = new ManifestService(index, gate, events, clock, options.manifestMaxBytes ?? DEFAULT_MANIFEST_MAX_BYTES, this.manifestCache, store);
    this.listings = new ListingService(index);
    this.index = index;
    this.store = store;
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
