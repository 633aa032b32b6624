import type { RegistryIndex } from '../metadata/registry-index.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BlobService } from './blobs.js';
import { ListingService } from './listings.js';
import { DEFAULT_MANIFEST_MAX_BYTES, ManifestService } from './manifests.js';
import { noEvents, openPushGate, systemClock, type Clock, type PushGate, type RegistryEvents } from './ports.js';
import { UploadService } from './uploads.js';

export interface RegistryOptions {
  index: RegistryIndex;
  store: BlobStore;
  gate?: PushGate;
  events?: RegistryEvents;
  clock?: Clock;
  uploadTtlMs?: number;
  manifestMaxBytes?: number;
}

/** The registry engine, no HTTP: what /v2 and the CLI call. */
export class Registry {
  readonly uploads: UploadService;
  readonly blobs: BlobService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  private readonly index: RegistryIndex;
  private readonly store: BlobStore;

  constructor(options: RegistryOptions) {
    const { index, store } = options;
    const gate = options.gate ?? openPushGate;
    const events = options.events ?? noEvents;
    const clock = options.clock ?? systemClock;
    this.uploads = new UploadService(index, store, gate, events, clock, { ttlMs: options.uploadTtlMs ?? 24 * 3600_000 });
    this.blobs = new BlobService(index, store, this.uploads, events, clock);
    this.manifests = new ManifestService(index, gate, events, clock, options.manifestMaxBytes ?? DEFAULT_MANIFEST_MAX_BYTES);
    this.listings = new ListingService(index);
    this.index = index;
    this.store = store;
  }

  /** Deletes every repository of a namespace (an account deleted with its repositories). */
  async deleteNamespace(namespace: string): Promise<string[]> {
    const names = await this.index.repositoriesInNamespace(namespace);
    for (const name of names) {
      for (const uploadId of await this.index.deleteRepository(name)) await this.store.abortUpload(uploadId);
    }
    return names;
  }
}
