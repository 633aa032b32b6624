import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { normalizeRepositoryName, type RepositoryName } from '../oci/names.js';
import { BlobBeingDeleted, type RegistryIndex } from '../metadata/registry-index.js';
import { BlobNotFound, type BlobStore, type ByteRange } from '../storage/blob-store.js';
import type { Actor, Clock, PushGate, RegistryEvents } from './ports.js';
import type { FlightReader } from './proxy/blob-flight.js';
import type { ProxyCache } from './proxy/proxy-cache.js';
import type { UploadService, UploadStatus } from './uploads.js';

/**
 * How stale a link's last-seen time may get before a HEAD refreshes it: well under the collector's
 * grace period (an hour by default), so that a client that checked a blob recently keeps it.
 */
const TOUCH_INTERVAL_MS = 5 * 60 * 1000;

export type MountResult = { mounted: true; digest: Digest } | { mounted: false; upload: UploadStatus };

export class BlobService {
  constructor(
    private readonly index: RegistryIndex,
    private readonly store: BlobStore,
    private readonly uploads: UploadService,
    private readonly gate: PushGate,
    private readonly events: RegistryEvents,
    private readonly clock: Clock,
    /** fills misses of proxied repositories from their upstream */
    private readonly proxy?: ProxyCache,
  ) {}

  /** A URL where the client may fetch the blob itself (the store's redirect capability), or undefined. */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    return this.store.redirectUrl?.(digest);
  }

  /**
   * Size of a blob readable in the repository (HEAD); refreshes its last-seen time. In a proxied
   * repository a blob not stored yet is fetched from the upstream when `download` is set (a GET):
   * its bytes then come from `download`, as the fetch brings them, instead of `writeTo`.
   */
  async stat(repository: RepositoryName, digestParam: string, download = false): Promise<{ digest: Digest; size: number | undefined; download?: FlightReader }> {
    const digest = parseDigest(digestParam);
    const link = await this.index.getBlobLink(repository, digest);
    if (!link) {
      const proxied = await this.proxy?.blob(repository, digest, download);
      if (!proxied) throw blobUnknown(digest);
      if ('stored' in proxied) return { digest, size: proxied.stored };
      return { digest, ...proxied };
    }
    // a HEAD answers from the index, but never for bytes that storage lost (pier fsck finds them):
    // a client told the blob exists would not push it again, and its manifest would name a lost
    // blob; told it is unknown, it uploads it, which restores it (a GET finds out as it reads)
    if (!download && link.size !== 0 && (await this.store.stat(digest)) === undefined) throw blobUnknown(digest);
    const now = this.clock.now();
    if (now - link.lastSeenAt > TOUCH_INTERVAL_MS) await this.index.touchBlobLink(repository, digest, now);
    return { digest, size: link.size };
  }

  /**
   * Writes a blob that `stat` found (or the range of it) into `destination`, the fastest way the
   * store can. Reads are bounded by the indexed size, so whatever else a file might hold never
   * reaches a client past the Content-Length it was promised. `opened` runs before the first byte, once
   * the blob was found: until then a failure is still an ordinary error response.
   */
  async writeTo(digest: Digest, size: number, range: ByteRange | undefined, destination: Writable, opened: () => void): Promise<void> {
    if (size === 0) return opened();
    const bounded = range ?? { start: 0, end: size - 1 };
    try {
      if (this.store.writeTo) return await this.store.writeTo(digest, bounded, destination, opened);
      const source = await this.store.read(digest, bounded);
      opened();
      await pipeline(source, destination, { end: false });
    } catch (error) {
      if (error instanceof BlobNotFound) throw blobUnknown(digest);
      throw error;
    }
  }

  /**
   * POST ?mount=: links a blob from `from` into the repository; without `from`, from any
   * repository that holds it and that `readable` allows (automatic content discovery; without
   * `readable`, any stored blob). When it cannot, a normal upload session starts instead, as the
   * spec says: nothing tells the caller that the blob exists where it may not look.
   */
  async mount(
    repository: RepositoryName,
    digestParam: string,
    fromParam: string | undefined,
    actor: Actor,
    readable?: (repository: string) => Promise<boolean>,
  ): Promise<MountResult> {
    const digest = parseDigest(digestParam);
    const from = fromParam === undefined || fromParam === '' ? undefined : normalizeRepositoryName(fromParam);
    const size = from ? (await this.index.getBlobLink(from, digest))?.size : await this.discover(digest, readable);
    if (size !== undefined && (await this.store.stat(digest)) !== undefined) {
      // a mount can be the first push into a repository: the gate creates it (with the owner's
      // default visibility) and applies the plan's limits, as for an upload
      await this.gate.check({ repository, actor, sizeDelta: 0, operation: 'upload' });
      // a blob the collector is deleting cannot be mounted: the client uploads it instead
      const linked = await this.index.linkBlob(repository, digest, size, this.clock.now(), async () => (await this.store.stat(digest)) !== undefined).then(
        () => true,
        (error: unknown) => {
          if (error instanceof BlobBeingDeleted) return false;
          throw error;
        },
      );
      if (linked) {
        this.events.emit({ type: 'blob.mounted', repository, digest, from, actor });
        return { mounted: true, digest };
      }
    }
    return { mounted: false, upload: await this.uploads.start(repository, actor) };
  }

  private async discover(digest: Digest, readable?: (repository: string) => Promise<boolean>): Promise<number | undefined> {
    if (!readable) return this.index.findBlob(digest);
    for (const candidate of await this.index.repositoriesWithBlob(digest, 20)) {
      if (await readable(candidate.repository)) return candidate.size;
    }
    return undefined;
  }

  /** Unlinks the blob from this repository only; the bytes stay for others (GC reclaims them). */
  async delete(repository: RepositoryName, digestParam: string, actor: Actor): Promise<void> {
    const digest = parseDigest(digestParam);
    if (!(await this.index.unlinkBlob(repository, digest))) throw blobUnknown(digest);
    this.events.emit({ type: 'blob.deleted', repository, digest, actor });
  }
}

function blobUnknown(digest: string): OciError {
  return new OciError('BLOB_UNKNOWN', `blob ${digest} is unknown to this repository`, { detail: { digest } });
}
