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
  /** a DELETE that did its work calls this before it answers (the audit entry is in when the client hears) */
  deleted?: () => Promise<void>;
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

/**
 * How much of a refused request's body is still read (and dropped) after the answer: a client
 * that is still sending when refused (a manifest over the limit, a push over quota, a missing
 * permission) then gets the answer instead of a reset connection ("broken pipe"). Past this the
 * connection is closed: the client has had the answer long since.
 */
export const REFUSED_BODY_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Drains the rest of a body that will not be used, at most `limit` bytes, keeping the connection
 * open while the answer goes out. Without it Node would close a connection whose body is unread,
 * and the client, still writing, would see a reset instead of the answer.
 */
export function drainRefusedBody(request: FastifyRequest, limit = REFUSED_BODY_DRAIN_BYTES): void {
  const raw = request.raw;
  if (raw.complete || raw.readableEnded || raw.destroyed) return;
  let drained = 0;
  raw.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > limit) raw.socket?.destroy();
  });
  raw.on('error', () => {}); // a client that gives up meanwhile is no error of ours
  raw.resume();
}

