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

export const openPushGate: PushGate = { check: async () => {} };
export const noEvents: RegistryEvents = { emit: () => {} };

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
