import type { ManifestRecord } from '../metadata/registry-index.js';
import type { Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/names.js';

/** Who is acting, as far as the registry cares: the hub decides what an account may do. */
export interface Actor {
  /** undefined for an anonymous client */
  account?: string;
}

export interface PushCheck {
  repository: RepositoryName;
  actor: Actor;
  /** bytes this step adds, when known (a manifest's size; 0 when an upload starts) */
  sizeDelta: number;
  operation: 'upload' | 'manifest';
}

/**
 * Plan limits and quotas, asked before an upload starts and before a manifest is stored, so that a
 * push fails fast. Refuse by throwing an OciError('DENIED', 'which limit, and how to raise it').
 */
export interface PushGate {
  check(push: PushCheck): Promise<void>;
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
export const noEvents: RegistryEvents = { emit: () => {} };
const noFill = { fill: async () => {} };
export const noManifestCache: ManifestCache = { read: async () => noFill, invalidate: async () => {} };

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
