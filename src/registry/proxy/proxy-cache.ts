import type { ManifestRecord, RegistryIndex } from '../../metadata/registry-index.js';
import type { ProxyIndex } from '../../metadata/proxy-index.js';
import { type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { parseManifest } from '../../oci/manifest.js';
import type { Reference, RepositoryName } from '../../oci/names.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { Listing } from '../listings.js';
import { referencesOf } from '../manifests.js';
import type { Clock } from '../ports.js';
import { RegistryClient, RemoteError } from '../remote/registry-client.js';
import { BlobFlights, type BlobFlight, type FlightReader } from './blob-flight.js';
import { silentObserver, type ProxyDirectory, type ProxyObserver, type ProxyRoute } from './ports.js';

export interface ProxyCacheOptions {
  index: RegistryIndex;
  proxyIndex: ProxyIndex;
  store: BlobStore;
  directory: ProxyDirectory;
  clock: Clock;
  observer?: ProxyObserver;
  maxManifestBytes: number;
  /** where blobs being fetched are spooled for the clients that wait for them (default: the OS's temp directory) */
  spoolDir?: string;
  /** after a connection failure, an upstream is not asked about cached tags for this long (default 10 s) */
  downForMs?: number;
}

/** A blob of a proxied repository that is not stored yet: its size, and a download that follows the fetch. */
export interface UpstreamBlob {
  size: number | undefined;
  /** undefined for a HEAD: nothing is fetched for it */
  download?: FlightReader;
}

const TOUCH_INTERVAL_MS = 60_000;
const CHECK_IDLE_MS = 10_000;

/**
 * The pull-through cache: a proxied repository is an ordinary repository of this registry whose
 * misses are filled from its upstream, once, whoever asks. Manifests are fetched on a miss and
 * stored byte for byte; a cached tag is checked again with a HEAD (which does not spend the
 * upstream's pull limit) once its TTL has passed, and while the upstream cannot be asked the
 * cached content is served (reported as stale). Blobs are fetched when a client asks for one a
 * cached manifest names, streamed to it while they are stored (blob-flight.ts).
 *
 * Across replicas: each replica fetches a missing blob at most once at a time; two replicas asked
 * for the same blob at the same moment may both fetch it (the store keeps one copy). A lease in
 * the database would make the second replica's client wait for the whole blob instead.
 */
export class ProxyCache {
  readonly #options: ProxyCacheOptions;
  readonly #observer: ProxyObserver;
  readonly #flights: BlobFlights;
  readonly #clients = new Map<string, RegistryClient>();
  readonly #fetches = new Map<string, Promise<ManifestRecord | undefined>>();
  readonly #down = new Map<string, number>();
  readonly #touched = new Map<string, number>();
  readonly #reported = new WeakSet<BlobFlight>();

  constructor(options: ProxyCacheOptions) {
    this.#options = options;
    this.#observer = options.observer ?? silentObserver;
    this.#flights = new BlobFlights(options.store, options.spoolDir);
  }

  /** A proxied repository's route, or undefined for an ordinary one. */
  route(repository: RepositoryName): Promise<ProxyRoute | undefined> {
    return this.#options.directory.route(repository);
  }

  /** The mirror namespace's copy that reads of `name` go to, when Pier serves as a registry mirror and `name` does not exist here. */
  mirrored(name: RepositoryName): Promise<RepositoryName | undefined> {
    return this.#options.directory.mirrored(name);
  }

  /** The upstream's URL when pushes into `repository` must be refused (a proxy namespace). */
  upstreamOf(repository: string): Promise<string | undefined> {
    const slash = repository.indexOf('/');
    return this.#options.directory.upstreamOf(slash === -1 ? repository : repository.slice(0, slash));
  }

  // ---- manifests ----------------------------------------------------------------------------

  /**
   * A manifest of a proxied repository (undefined when the repository is not one): from the cache
   * while fresh, else from the upstream. `record` is undefined when the upstream does not know it.
   */
  async manifest(repository: RepositoryName, reference: Reference): Promise<{ record?: ManifestRecord } | undefined> {
    const route = await this.route(repository);
    if (!route) return undefined;
    this.#touch(route.repository);
    const { index } = this.#options;
    if (reference.kind === 'digest') {
      const local = await index.getManifest(route.repository, reference.digest);
      return { record: local ?? (await this.#fetchManifest(route, reference.digest)) };
    }
    const tag = reference.tag;
    const local = await index.getTaggedManifest(route.repository, tag);
    if (!local) return { record: await this.#fetchManifest(route, tag, tag) };
    const check = await this.#options.proxyIndex.tagCheck(route.repository, tag);
    const now = this.#options.clock.now();
    if (check && check.digest === local.digest && now - check.checkedAt < route.ttlMs) return { record: local };
    if (this.#isDown(route)) {
      this.#stale(route, tag, 'the upstream did not answer a moment ago');
      return { record: local };
    }
    try {
      return { record: await this.#single(`recheck ${route.repository}:${tag}`, () => this.#recheck(route, tag, local)) };
    } catch (error) {
      if (!(error instanceof RemoteError)) throw error;
      if (error.kind === 'unreachable') this.#markDown(route);
      this.#stale(route, tag, error.message);
      return { record: local };
    }
  }

  /** A HEAD tells whether the tag still points where the cache has it; a moved tag is fetched. */
  async #recheck(route: ProxyRoute, tag: string, local: ManifestRecord): Promise<ManifestRecord | undefined> {
    const { index, proxyIndex, clock } = this.#options;
    const head = await this.#client(route).headManifest(route.remote, tag, CHECK_IDLE_MS);
    if (!head) {
      // a registry that answers is the authority on its tags: gone there, gone here (by digest, the manifest stays)
      const confirmed = await this.#client(route).getManifest(route.remote, tag, this.#options.maxManifestBytes);
      if (!confirmed) {
        await proxyIndex.forgetTag(route.repository, tag);
        return undefined;
      }
      return this.#store(route, confirmed.digest, confirmed.mediaType, confirmed.body!, tag);
    }
    if (head.digest === local.digest) {
      await proxyIndex.recordCheck(route.repository, tag, local.digest, clock.now());
      return local;
    }
    const cached = await index.getManifest(route.repository, head.digest);
    if (cached) {
      await proxyIndex.retag(route.repository, tag, cached.digest, clock.now());
      return cached;
    }
    return this.#fetchManifest(route, head.digest, tag, true);
  }

  /** GET from the upstream and store; one fetch per repository and reference at a time. */
  #fetchManifest(route: ProxyRoute, reference: string, tag?: string, rethrow = false): Promise<ManifestRecord | undefined> {
    return this.#single(`${route.repository}@${reference}#${tag ?? ''}`, async () => {
      let fetched;
      try {
        fetched = await this.#client(route).getManifest(route.remote, reference, this.#options.maxManifestBytes);
      } catch (error) {
        if (rethrow || !(error instanceof RemoteError)) throw error;
        this.#failed(route, 'manifest', reference, error.message);
        throw upstreamError(route, error, 'manifest', reference);
      }
      if (!fetched) return undefined;
      return this.#store(route, fetched.digest, fetched.mediaType, fetched.body!, tag);
    });
  }

  async #store(route: ProxyRoute, digest: Digest, mediaType: string, body: Buffer, tag: string | undefined): Promise<ManifestRecord> {
    let manifest;
    try {
      manifest = parseManifest(body, mediaType);
    } catch (error) {
      throw new OciError('UNKNOWN', `the upstream ${hostOf(route)} served manifest ${digest}, which Pier does not store: ${(error as Error).message}`, { status: 502 });
    }
    await this.#options.proxyIndex.cacheManifest({
      repository: route.repository,
      namespace: route.namespace,
      digest,
      mediaType: manifest.mediaType,
      content: body,
      artifactType: manifest.artifactType,
      subject: manifest.subject?.digest,
      annotations: manifest.annotations,
      references: referencesOf(manifest),
      ...(tag !== undefined ? { tag } : {}),
      now: this.#options.clock.now(),
    });
    this.#observer.fetched({ repository: route.repository, kind: 'manifest', digest, bytes: body.length });
    return { digest, mediaType: manifest.mediaType, size: body.length, content: body };
  }

  // ---- blobs --------------------------------------------------------------------------------

  /**
   * A blob of a proxied repository that is not linked there (undefined when the repository is not
   * proxied). Only blobs that a cached manifest of the repository names are fetched. A blob the
   * store holds already (for another repository) is linked once the upstream confirmed, with a
   * HEAD, that this repository has it: a digest alone never opens another repository's blob.
   * `download`: a GET, which starts (or joins) the fetch; without it only the size is learnt.
   */
  async blob(repository: RepositoryName, digest: Digest, download: boolean): Promise<{ stored: number } | UpstreamBlob | undefined> {
    const route = await this.route(repository);
    if (!route) return undefined;
    const { proxyIndex, store, index, clock } = this.#options;
    if (!(await proxyIndex.referencesBlob(route.repository, digest))) throw blobUnknown(digest);
    this.#touch(route.repository);
    const client = this.#client(route);
    const stored = await store.stat(digest);
    if (stored !== undefined) {
      const size = await client.headBlob(route.remote, digest).catch((error: unknown) => {
        throw error instanceof RemoteError ? upstreamError(route, error, 'blob', digest) : error;
      });
      if (size === undefined) throw blobUnknown(digest);
      await index.linkBlob(route.repository, digest, stored, clock.now(), () => stillStored(store, digest));
      return { stored };
    }
    if (!download) {
      const running = this.#flights.get(digest);
      if (running?.size !== undefined) return { size: running.size };
      const size = await client.headBlob(route.remote, digest).catch((error: unknown) => {
        throw error instanceof RemoteError ? upstreamError(route, error, 'blob', digest) : error;
      });
      if (size === undefined) throw blobUnknown(digest);
      return { size };
    }
    const flight = this.#flights.join(digest, route.repository, () => ({
      fetch: () => client.getBlob(route.remote, digest),
      link: async (repositories, size) => {
        // not into a repository whose proxy was removed while the blob came
        for (const name of repositories) if (await this.route(name as RepositoryName)) await index.linkBlob(name, digest, size, clock.now(), () => stillStored(store, digest));
      },
    }));
    this.#watch(flight, route);
    try {
      await flight.ready;
    } catch (error) {
      throw error instanceof RemoteError ? upstreamError(route, error, 'blob', digest) : error;
    }
    const reader = flight.attach();
    if (reader) return { size: flight.size, download: reader };
    // it ended in the meantime
    await flight.done;
    if (flight.state !== 'verified' || flight.size === undefined) throw upstreamError(route, flight.error ?? new Error('the fetch failed'), 'blob', digest);
    if (!flight.linked.has(route.repository)) await index.linkBlob(route.repository, digest, flight.size, clock.now(), () => stillStored(store, digest));
    return { stored: flight.size };
  }

  /** Reports the end of a fetch, and links the repository if it joined while the fetch was linking. */
  #watch(flight: BlobFlight, route: ProxyRoute): void {
    void flight.done.then(async () => {
      if (flight.state === 'failed') {
        if (!this.#reported.has(flight)) {
          this.#reported.add(flight);
          this.#failed(route, 'blob', flight.digest, flight.error?.message ?? 'failed');
        }
        return;
      }
      if (!flight.linked.has(route.repository) && flight.size !== undefined) {
        await this.#options.index.linkBlob(route.repository, flight.digest, flight.size, this.#options.clock.now(), () => stillStored(this.#options.store, flight.digest)).catch(() => {});
      }
      if (!this.#reported.has(flight)) {
        this.#reported.add(flight);
        this.#observer.fetched({ repository: route.repository, kind: 'blob', digest: flight.digest, bytes: flight.size ?? 0 });
      }
    });
  }

  // ---- tags ---------------------------------------------------------------------------------

  /** The upstream's tags of a proxied repository (undefined when it is not one); the cached ones while the upstream cannot be asked. */
  async tags(repository: RepositoryName, page: { n?: number; last?: string }): Promise<Listing | undefined> {
    const route = await this.route(repository);
    if (!route) return undefined;
    try {
      if (this.#isDown(route)) throw new RemoteError('unreachable', 'the upstream did not answer a moment ago');
      const remote = await this.#client(route).tags(route.remote, page);
      if (!remote) throw new OciError('NAME_UNKNOWN', `repository ${route.remote} is not known to the upstream registry`, { detail: { name: repository } });
      const items = page.n !== undefined ? remote.tags.slice(0, page.n) : remote.tags;
      const next = remote.next ?? (page.n !== undefined && remote.tags.length > page.n ? items[items.length - 1] : undefined);
      return { items, ...(next !== undefined ? { next } : {}) };
    } catch (error) {
      if (!(error instanceof RemoteError)) throw error;
      if (error.kind === 'unreachable') this.#markDown(route);
      if (!(await this.#options.index.repositoryExists(route.repository))) throw upstreamError(route, error, 'tags', 'list');
      this.#stale(route, 'tags/list', error.message);
      const n = page.n;
      const found = await this.#options.index.listTags(route.repository, { last: page.last, n: n === undefined ? undefined : n + 1 });
      if (n !== undefined && found.length > n) {
        const items = found.slice(0, n);
        return { items, next: items[n - 1]! };
      }
      return { items: [...found] };
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  #client(route: ProxyRoute): RegistryClient {
    const key = `${route.namespace} ${route.version}`;
    let client = this.#clients.get(key);
    if (!client) {
      for (const old of this.#clients.keys()) if (old.startsWith(`${route.namespace} `)) this.#clients.delete(old);
      client = new RegistryClient({ url: route.upstream.url, credentials: route.upstream.credentials, clock: this.#options.clock });
      this.#clients.set(key, client);
    }
    return client;
  }

  #single<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#fetches.get(key) as Promise<T> | undefined;
    if (running) return running;
    const promise = work().finally(() => this.#fetches.delete(key));
    this.#fetches.set(key, promise as Promise<ManifestRecord | undefined>);
    return promise;
  }

  #isDown(route: ProxyRoute): boolean {
    const until = this.#down.get(route.namespace);
    return until !== undefined && until > this.#options.clock.now();
  }

  #markDown(route: ProxyRoute): void {
    this.#down.set(route.namespace, this.#options.clock.now() + (this.#options.downForMs ?? 10_000));
  }

  #stale(route: ProxyRoute, reference: string, reason: string): void {
    this.#observer.stale({ repository: route.repository, reference, upstream: hostOf(route), reason });
  }

  #failed(route: ProxyRoute, kind: 'manifest' | 'blob' | 'tags', reference: string, reason: string): void {
    this.#observer.failed({ repository: route.repository, kind, reference, upstream: hostOf(route), reason });
  }

  /** Records that a client read the repository, at most once a minute per repository and process. */
  #touch(repository: string): void {
    const now = this.#options.clock.now();
    const last = this.#touched.get(repository);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    if (this.#touched.size > 10_000) this.#touched.clear();
    this.#touched.set(repository, now);
    void this.#options.proxyIndex.touch(repository, now).catch(() => {});
  }
}

function hostOf(route: ProxyRoute): string {
  try {
    return new URL(route.upstream.url).host;
  } catch {
    return route.upstream.url;
  }
}

function blobUnknown(digest: string): OciError {
  return new OciError('BLOB_UNKNOWN', `blob ${digest} is unknown to this repository`, { detail: { digest } });
}

/** What a client sees when the upstream could not give what the cache does not have. */
function upstreamError(route: ProxyRoute, error: Error, kind: string, reference: string): OciError {
  if (error instanceof OciError) return error;
  const where = `${kind} ${reference} of ${route.remote} on ${hostOf(route)}`;
  if (error instanceof RemoteError) {
    if (error.kind === 'limited') return new OciError('TOOMANYREQUESTS', `the upstream registry limits pulls: ${where} is not cached yet; try again later`);
    if (error.kind === 'refused') {
      return new OciError(kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', `the upstream registry refused access to ${where} (check the proxy's credentials): ${error.message}`, {
        status: 404,
      });
    }
  }
  return new OciError('UNKNOWN', `the upstream registry could not be reached for ${where}, which is not cached: ${error.message}`, { status: 502 });
}

/** Asked when a blob has no row (docs/garbage-collection.md): the collector may have deleted bytes the cache found stored. */
async function stillStored(store: BlobStore, digest: Digest): Promise<boolean> {
  return (await store.stat(digest)) !== undefined;
}
