import type { RepositoryName } from '../../oci/names.js';
import type { RemoteCredentials } from '../remote/registry-client.js';

/** Where reads of a repository go when it is a copy of an upstream registry's. */
export interface ProxyRoute {
  /** where the copy lives here: `hub/library/nginx` */
  repository: RepositoryName;
  /** the proxy namespace: `hub` */
  namespace: string;
  /** its name on the upstream: `library/nginx` */
  remote: string;
  upstream: { url: string; credentials?: RemoteCredentials };
  /** a cached tag is checked against the upstream again after this long */
  ttlMs: number;
  /** changes when the proxy's URL or credentials change (the registry then makes a new client) */
  version: string;
}

/**
 * Which repositories are copies of another registry's (the hub keeps the proxy namespaces and
 * implements it). Asked on every read of a repository, so it answers from memory.
 */
export interface ProxyDirectory {
  /** The route of a repository in a proxy namespace; undefined for any other. */
  route(repository: RepositoryName): Promise<ProxyRoute | undefined>;
  /**
   * Where reads of a name go when a mirror namespace is configured and the name does not exist
   * here: `library/nginx`, asked by a Docker daemon that uses Pier as its registry mirror, is read
   * from `hub/library/nginx`. Undefined otherwise (the name itself is read).
   */
  mirrored(repository: RepositoryName): Promise<RepositoryName | undefined>;
  /** The upstream's URL when `namespace` is a proxy namespace (nobody pushes there). */
  upstreamOf(namespace: string): Promise<string | undefined>;
}

/**
 * What the cache reports, for logs and metrics (server/ logs them; a metrics module can count
 * them: `stale` is the "served stale" counter, `fetched` the bytes and manifests from upstreams).
 */
export interface ProxyObserver {
  /** cached content was served because the upstream could not be asked (down, refusing, limiting) */
  stale(event: { repository: string; reference: string; upstream: string; reason: string }): void;
  /** a manifest or a blob came from the upstream */
  fetched(event: { repository: string; kind: 'manifest' | 'blob'; digest: string; bytes: number }): void;
  /** a fetch from the upstream failed (the client got an error, or its download was cut) */
  failed(event: { repository: string; kind: 'manifest' | 'blob' | 'tags'; reference: string; upstream: string; reason: string }): void;
}

export const silentObserver: ProxyObserver = { stale: () => {}, fetched: () => {}, failed: () => {} };
