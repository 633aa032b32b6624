import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RepositoryName } from '../../oci/names.js';
import type { CatalogFilter } from '../../registry/listings.js';
import type { Actor } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';

export interface V2Context {
  registry: Registry;
  request: FastifyRequest;
  reply: FastifyReply;
  query: URLSearchParams;
  name: RepositoryName;
  actor: Actor;
  head: boolean;
  /** the repositories the catalog may show this caller (token mode); absent: all */
  catalogFilter?: CatalogFilter;
  /** which repositories the caller may pull, for a mount without `from`; undefined: any */
  readable?: (repository: string) => Promise<boolean>;
}

/** Whether a request carries a body (PUT of an upload may or may not). */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

/** Discards a body the endpoint does not use, so the connection stays usable. */
export function discardBody(request: FastifyRequest): void {
  if (hasBody(request)) request.raw.resume();
}

export function blobLocation(name: string, digest: string): string {
  return `/v2/${name}/blobs/${digest}`;
}

export function manifestLocation(name: string, reference: string): string {
  return `/v2/${name}/manifests/${reference}`;
}
