import type { ManifestRecord, TagGuard } from '../metadata/registry-index.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/names.js';

/** Who is acting, as far as the registry cares: the hub decides what an account may do. */
export interface Actor {
  /** undefined for an anonymous client */
  account?: string;
  /** where the request came from (the audit log's "from where"); undefined for Pier's own work */
  origin?: RequestOrigin;
}

/** The client of a request, as the HTTP layer saw it; the registry only carries it along. */
export interface RequestOrigin {
  /** the client's address (the forwarded one behind a trusted proxy) */
  address: string;
  userAgent: string | null;
  requestId: string;
}

export interface PushCheck {
  repository: RepositoryName;
  actor: Actor;
  /**
   * bytes this step adds, when known: a manifest's size; a monolithic upload's Content-Length;
   * 0 when an upload session starts; for 'chunk', the bytes the session holds already
   */
  sizeDelta: number;
  /**
   * 'upload': a blob upload starts (POST); 'chunk': bytes are about to be appended to a session
   * that started (PATCH, or PUT with a body: `actor` is unknown there, only the allowance is
   * asked); 'manifest': a manifest is about to be stored.
   */
  operation: 'upload' | 'chunk' | 'manifest';
  /** for 'manifest': the digests of the blobs it refers to (what it may add to a storage quota) */
  blobs?: readonly string[];
  /** for 'manifest': its digest (a manifest the namespace already holds adds no bytes: a re-push, a new tag) */
  digest?: string;
  /**
   * for 'upload' and 'chunk': bytes this request already counts in the namespace's usage (its
   * session's bytes and what it reserved for the body in flight), so that they are not counted twice
   */
  held?: number;
}

/** What a push may still do, when the gate lets it through. */
export interface PushAllowance {
  /**
   * How many bytes the blob being uploaded may have in all (undefined: no limit). The upload
   * service stops a body that streams past it, with `refusal` as the DENIED message.
   */
  maxBytes?: number;
  refusal?: string;
}

/**
 * Plan limits and quotas, asked before an upload starts, before each chunk and before a manifest
 * is stored, so that a push fails fast. Refuse by throwing an OciError('DENIED', 'which limit, and
 * how to raise it').
 */
export interface PushGate {
  check(push: PushCheck): Promise<PushAllowance | void>;
  /**
   * Asked before tags change (pushed, deleted, or deleted with the manifest they name): the guard
   * that the index applies inside the transaction that changes them, so that deciding and writing
   * are one step (immutable tags; undefined: nothing protects the repository's tags).
   */
  tagGuard?(repository: RepositoryName, actor: Actor): Promise<TagGuard | undefined>;
}

/** A manifest GET or HEAD, as the pull gate sees it. */
export interface PullCheck {
  repository: RepositoryName;
  /** the reference asked for: a tag or a digest */
  reference: string;
  actor: Actor;
  /** the client's address: the socket's, or the forwarded one behind a trusted proxy */
  client: string;
  /** a GET may count as a pull; a HEAD never does (it only learns the headers) */
  get: boolean;
}

export interface PullAdmission {
  /**
   * Whether this request counts as a pull (then it is reported as 'manifest.pulled'). A GET of the
   * platform manifest that an index of the same repository lists does not: a multi-arch pull (the
   * index, then one platform's manifest) counts once.
   */
  counted: boolean;
  /** to answer with: RateLimit-Limit and RateLimit-Remaining when a limit applies */
  headers: Record<string, string>;
}

/**
 * Pull rate limits, asked on every manifest GET and HEAD before it is answered (the limits of an
 * account's plan cannot wait for its token to expire). Refuses by throwing
 * OciError('TOOMANYREQUESTS', 'which limit, and how to raise it') with Retry-After.
 */
export interface PullGate {
  admit(pull: PullCheck): Promise<PullAdmission>;
  /**
   * After a counted GET answered with `manifest`: an index's platform manifests are then free for
   * this client by digest (a multi-arch pull counts once), and only for this client.
   */
  served?(pull: PullCheck, manifest: { mediaType: string; content: Buffer }): Promise<void>;
}

export type RegistryEvent =
  | { type: 'blob.uploaded'; repository: RepositoryName; digest: Digest; size: number; actor: Actor }
  | { type: 'blob.mounted'; repository: RepositoryName; digest: Digest; from?: RepositoryName; actor: Actor }
  | { type: 'blob.deleted'; repository: RepositoryName; digest: Digest; actor: Actor }
  | { type: 'manifest.pushed'; repository: RepositoryName; digest: Digest; mediaType: string; size: number; tags: string[]; actor: Actor }
  | { type: 'manifest.deleted'; repository: RepositoryName; digest: Digest; actor: Actor }
  | { type: 'tag.deleted'; repository: RepositoryName; tag: string; actor: Actor }
  | { type: 'manifest.pulled'; repository: RepositoryName; digest: Digest; reference: string; actor: Actor };

/** What happened in the registry: feeds pull counts, webhooks and the audit log (all in the hub). */
export interface RegistryEvents {
  emit(event: RegistryEvent): void;
}

/**
 * A short cache of manifests in front of the index (src/shared-state/ implements it: in Redis for
 * every replica, or in one process). The registry asks it before the index on every manifest GET
 * and HEAD, and calls invalidate() after every change to a repository's manifests or tags (PUT,
 * DELETE, the repository deleted), before the change answers: the next read, on any replica,
 * sees it. Neither method throws: a cache that cannot be reached misses, and does what it can to
 * keep entries from before the change from being served later.
 */
export interface ManifestCache {
  /** `reference` is a tag or a digest of `repository` (the two never look alike). */
  read(repository: RepositoryName, reference: string): Promise<ManifestCacheRead>;
  invalidate(repository: RepositoryName): Promise<void>;
}

/**
 * A hit, or a miss that may be filled with what the index answers. The miss remembers the state
 * of the repository when it was read, before the index: fill() stores nothing if the repository
 * changed since, so a read that raced with a change never caches what the change replaced.
 */
export type ManifestCacheRead = { record: ManifestRecord; fill?: undefined } | { record?: undefined; fill(record: ManifestRecord): Promise<void> };

export const openPushGate: PushGate = { check: async () => {} };
export const openPullGate: PullGate = { admit: async (pull) => ({ counted: pull.get, headers: {} }) };
export const noEvents: RegistryEvents = { emit: () => {} };
const noFill = { fill: async () => {} };
export const noManifestCache: ManifestCache = { read: async () => noFill, invalidate: async () => {} };

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
