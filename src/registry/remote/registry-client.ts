import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { digestAlgorithm, isDigestLike, makeDigest, parseDigest, type Digest } from '../../oci/digest.js';
import { bareMediaType, MANIFEST_MEDIA_TYPES } from '../../oci/media-types.js';
import { systemClock, type Clock } from '../ports.js';
import { discard, readBody, send, USER_AGENT } from './http.js';
import { RegistryAuth, type RemoteCredentials } from './registry-auth.js';
import { asRemote, expectStatus, readJson, RemoteError } from './remote-error.js';

export type { RemoteCredentials };
export { RemoteError };

export interface RemoteRegistryOptions {
  /** `https://registry-1.docker.io`, `http://127.0.0.1:5001`; a path prefix is kept */
  url: string;
  credentials?: RemoteCredentials;
  clock?: Clock;
  /** how long a connection may stay silent (default 60 s) */
  idleMs?: number;
}

/** What a request needs on the other registry, in the token spec's words. */
export interface Access {
  repository: string;
  actions: ReadonlyArray<'pull' | 'push'>;
}

export interface RemoteManifest {
  digest: Digest;
  mediaType: string;
  size: number;
  /** the bytes as the registry serves them; absent for a HEAD */
  body?: Buffer;
}

export interface RemoteDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Every manifest type Pier stores: the other registry serves what it holds, as it is. */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

const REDIRECTS = 5;

/**
 * A client of another OCI registry, for the pull-through cache and replication: the requests of the
 * distribution spec, with the registry's token auth (registry-auth.ts) and its redirects.
 */
export class RegistryClient {
  readonly base: URL;
  readonly host: string;
  readonly #auth: RegistryAuth;
  readonly #idleMs: number;

  constructor(options: RemoteRegistryOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.host = this.base.host;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#auth = new RegistryAuth(this.base, options.credentials, options.clock ?? systemClock, this.#idleMs);
  }

  // ---- manifests ----------------------------------------------------------------------------

  /** HEAD: where a tag points (Docker-Content-Digest), without spending the registry's pull limit; undefined when unknown. */
  async headManifest(repository: string, reference: string, idleMs?: number): Promise<RemoteManifest | undefined> {
    const response = await this.request('HEAD', `${repository}/manifests/${reference}`, pull(repository), { headers: { accept: MANIFEST_ACCEPT }, idleMs });
    discard(response);
    if (response.statusCode === 404) return undefined;
    await this.#expectStatus(response, [200], `HEAD manifest ${repository}:${reference}`);
    const header = response.headers['docker-content-digest'];
    const mediaType = bareMediaType(response.headers['content-type']);
    // a registry that does not say the digest on HEAD: only a GET tells
    if (typeof header !== 'string' || !mediaType) return this.getManifest(repository, reference, 4 * 1024 * 1024);
    return { digest: parseRemoteDigest(header, this.host), mediaType, size: Number(response.headers['content-length'] ?? 0) };
  }

  /**
   * GET: the manifest's bytes, checked against the digest asked for (or the one the registry
   * says it served); undefined when the registry does not know it.
   */
  async getManifest(repository: string, reference: string, maxBytes: number): Promise<RemoteManifest | undefined> {
    const response = await this.request('GET', `${repository}/manifests/${reference}`, pull(repository), { headers: { accept: MANIFEST_ACCEPT } });
    if (response.statusCode === 404) {
      discard(response);
      return undefined;
    }
    await this.#expectStatus(response, [200], `GET manifest ${repository}:${reference}`);
    const body = await readBody(response, maxBytes).catch((error: unknown) => {
      throw asRemote(error, this.host);
    });
    const expected = isDigestLike(reference) ? parseRemoteDigest(reference, this.host) : undefined;
    const header = response.headers['docker-content-digest'];
    const claimed = expected ?? (typeof header === 'string' ? parseRemoteDigest(header, this.host) : undefined);
    const algorithm = claimed ? digestAlgorithm(claimed) : 'sha256';
    const digest = makeDigest(algorithm, createHash(algorithm).update(body).digest('hex'));
    if (claimed && claimed !== digest) {
      throw new RemoteError('invalid', `${this.host} served manifest ${repository}:${reference} with digest ${digest}, not ${claimed}`);
    }
    const mediaType = bareMediaType(response.headers['content-type']) ?? mediaTypeInBody(body);
    if (!mediaType) throw new RemoteError('invalid', `${this.host} served manifest ${repository}:${reference} without a media type`);
    return { digest, mediaType, size: body.length, body };
  }

  /** PUT, byte for byte; resolves with the digest the registry computed and whether it took the subject (OCI-Subject). */
  async putManifest(repository: string, reference: string, body: Buffer, mediaType: string): Promise<{ digest?: string; subject?: string }> {
    const response = await this.request('PUT', `${repository}/manifests/${reference}`, push(repository), {
      headers: { 'content-type': mediaType, 'content-length': String(body.length) },
      body,
    });
    await this.#expectStatus(response, [201, 200, 202], `PUT manifest ${repository}:${reference}`);
    discard(response);
    const digest = response.headers['docker-content-digest'];
    const subject = response.headers['oci-subject'];
    return { ...(typeof digest === 'string' ? { digest } : {}), ...(typeof subject === 'string' ? { subject } : {}) };
  }

  // ---- blobs --------------------------------------------------------------------------------

  /** The size of a blob the repository holds, or undefined. */
  async headBlob(repository: string, digest: string): Promise<number | undefined> {
    const response = await this.request('HEAD', `${repository}/blobs/${digest}`, pull(repository), {});
    discard(response);
    if (response.statusCode === 404) return undefined;
    await this.#expectStatus(response, [200], `HEAD blob ${repository}@${digest}`);
    return Number(response.headers['content-length'] ?? 0);
  }

  /**
   * GET a blob: the response streaming its bytes (status 200), following the redirects registries
   * answer with (Docker Hub sends blobs from a CDN), without our credentials off the registry's
   * own host; undefined when the registry does not know the blob.
   */
  async getBlob(repository: string, digest: string): Promise<IncomingMessage | undefined> {
    let current = new URL(`v2/${repository}/blobs/${digest}`, this.base);
    let response = await this.request('GET', current, pull(repository), {});
    for (let hops = 0; isRedirect(response.statusCode) && hops < REDIRECTS; hops++) {
      discard(response);
      const location = response.headers.location;
      if (!location) throw new RemoteError('invalid', `${this.host} redirected blob ${digest} nowhere`);
      const next = new URL(location, current);
      current = next;
      const sameHost = next.host === this.host;
      response = sameHost
        ? await this.request('GET', next, pull(repository), {})
        : await send({ method: 'GET', url: next, idleMs: this.#idleMs }).catch((error: unknown) => {
            throw asRemote(error, next.host);
          });
    }
    if (response.statusCode === 404) {
      discard(response);
      return undefined;
    }
    await this.#expectStatus(response, [200], `GET blob ${repository}@${digest}`);
    return response;
  }

  /** Links a blob from another repository of that registry; false when it started an upload instead (cancelled here). */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const query = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const response = await this.request('POST', `${repository}/blobs/uploads/${query}`, [...push(repository), ...pull(from)], {
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
    });
    discard(response);
    if (response.statusCode === 201) return true;
    await this.#expectStatus(response, [202], `mount ${digest} into ${repository}`);
    const location = response.headers.location;
    if (location) {
      const cancel = await this.request('DELETE', this.#resolve(location), push(repository), {}).catch(() => undefined);
      if (cancel) discard(cancel);
    }
    return false;
  }

  /** Uploads a blob in one PUT after its POST (a body of `size` bytes that `open` streams). */
  async pushBlob(repository: string, digest: string, size: number, open: () => Readable): Promise<void> {
    const started = await this.request('POST', `${repository}/blobs/uploads/`, push(repository), {
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
    });
    discard(started);
    await this.#expectStatus(started, [202], `start an upload of ${digest} to ${repository}`);
    const location = started.headers.location;
    if (!location) throw new RemoteError('invalid', `${this.host} started an upload without a Location`);
    const target = this.#resolve(location);
    target.searchParams.set('digest', digest);
    const response = await this.request('PUT', target, push(repository), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: open,
    });
    discard(response);
    await this.#expectStatus(response, [201, 204], `upload ${digest} to ${repository}`);
  }

  // ---- listings -----------------------------------------------------------------------------

  /** One page of a repository's tags; undefined when the repository is unknown. */
  async tags(repository: string, page: { n?: number; last?: string } = {}): Promise<{ tags: string[]; next?: string } | undefined> {
    const query = new URLSearchParams();
    if (page.n !== undefined) query.set('n', String(page.n));
    if (page.last !== undefined) query.set('last', page.last);
    const qs = query.size > 0 ? `?${query}` : '';
    const response = await this.request('GET', `${repository}/tags/list${qs}`, pull(repository), {});
    if (response.statusCode === 404) {
      discard(response);
      return undefined;
    }
    await this.#expectStatus(response, [200], `tags of ${repository}`);
    const json = await readJson(response, this.host);
    const tags = Array.isArray(json.tags) ? json.tags.filter((t): t is string => typeof t === 'string') : [];
    const next = nextLast(response.headers.link);
    return { tags, ...(next !== undefined ? { next } : {}) };
  }

  /** Every tag, page after page. */
  async allTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let last: string | undefined;
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await this.tags(repository, { n: 1000, ...(last !== undefined ? { last } : {}) });
      if (!page) return tags;
      tags.push(...page.tags);
      if (page.next === undefined || page.tags.length === 0) break;
      last = page.next;
    }
    return tags;
  }

  /** Every repository name (`/v2/_catalog`, page after page); registries that do not list them refuse. */
  async catalog(): Promise<string[]> {
    const names: string[] = [];
    let last: string | undefined;
    for (let pages = 0; pages < 10_000; pages++) {
      const query = new URLSearchParams({ n: '1000', ...(last !== undefined ? { last } : {}) });
      const response = await this.request('GET', `_catalog?${query}`, [], { scopes: ['registry:catalog:*'] });
      await this.#expectStatus(response, [200], 'the catalog');
      const json = await readJson(response, this.host);
      const page = Array.isArray(json.repositories) ? json.repositories.filter((r): r is string => typeof r === 'string') : [];
      names.push(...page);
      last = nextLast(response.headers.link);
      if (last === undefined || page.length === 0) break;
    }
    return names;
  }

  /**
   * The manifests that refer to `digest` (signatures, SBOMs): the referrers API, or where the
   * registry has none, the fallback tag the spec names (`sha256-<hex>`, an index of them).
   */
  async referrers(repository: string, digest: string, maxBytes: number): Promise<RemoteDescriptor[]> {
    const accept = { accept: 'application/vnd.oci.image.index.v1+json' };
    const response = await this.request('GET', `${repository}/referrers/${digest}`, pull(repository), { headers: accept });
    if (response.statusCode === 200) {
      const found = descriptorsOf(await readJson(response, this.host));
      // a registry that pages them (Pier does, past 1000) links the next page
      let link = nextUrl(response.headers.link, this.base);
      for (let pages = 1; link && pages < 10_000; pages++) {
        const next = await this.request('GET', link, pull(repository), { headers: accept });
        await this.#expectStatus(next, [200], `referrers of ${digest}`);
        found.push(...descriptorsOf(await readJson(next, this.host)));
        link = nextUrl(next.headers.link, this.base);
      }
      return found;
    }
    discard(response);
    if (response.statusCode !== 404 && response.statusCode !== 405 && response.statusCode !== 400) {
      await this.#expectStatus(response, [200], `referrers of ${digest}`);
    }
    const fallback = await this.getManifest(repository, referrersTag(digest), maxBytes);
    if (!fallback?.body) return [];
    return descriptorsOf(JSON.parse(fallback.body.toString('utf8')) as Record<string, unknown>);
  }

  // ---- the request, with token auth ----------------------------------------------------------

  /**
   * One request under `access` (the scopes it needs). A Buffer body is sent again after the
   * registry asked for credentials; a streamed body (`() => Readable`) is sent once, after a token
   * for its scopes was fetched (asking `/v2/` for the challenge first, when none was seen yet).
   */
  async request(
    method: string,
    path: string | URL,
    access: Access[],
    options: { headers?: Record<string, string>; body?: Buffer | (() => Readable); idleMs?: number; scopes?: string[] },
  ): Promise<IncomingMessage> {
    const url = typeof path === 'string' ? new URL(`v2/${path}`, this.base) : path;
    const scopes = options.scopes ?? scopesOf(access);
    const streamed = typeof options.body === 'function';
    let authorization = this.#auth.cached(scopes);
    if (authorization === undefined && streamed) authorization = await this.#auth.prepare(scopes);
    const attempt = (auth: string | undefined) => {
      const body = options.body;
      return send({
        method,
        url,
        headers: { 'user-agent': USER_AGENT, ...options.headers, ...(auth ? { authorization: auth } : {}) },
        ...(body !== undefined ? { body: typeof body === 'function' ? body() : body } : {}),
        idleMs: options.idleMs ?? this.#idleMs,
      }).catch((error: unknown) => {
        throw asRemote(error, this.host);
      });
    };
    const response = await attempt(authorization);
    if (response.statusCode !== 401 || streamed) return response;
    discard(response);
    const fresh = await this.#auth.answer(response.headers['www-authenticate'], scopes, authorization);
    const retried = await attempt(fresh.authorization);
    if (retried.statusCode === 401 && fresh.basic) {
      discard(retried);
      throw this.#auth.refused();
    }
    return retried;
  }

  #expectStatus(response: IncomingMessage, statuses: number[], what: string): Promise<void> {
    return expectStatus(response, statuses, what, this.host);
  }

  #resolve(location: string): URL {
    return new URL(location, this.base);
  }
}


const pull = (repository: string): Access[] => [{ repository, actions: ['pull'] }];
const push = (repository: string): Access[] => [{ repository, actions: ['pull', 'push'] }];

function scopesOf(access: Access[]): string[] {
  return access.map((a) => `repository:${a.repository}:${a.actions.join(',')}`);
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** The tag that stands for a subject's referrers where a registry has no referrers API (`sha256-<hex>`). */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

/** `<...?n=100&last=abc>; rel="next"` -> "abc" */
function nextLast(link: string | string[] | undefined): string | undefined {
  const value = Array.isArray(link) ? link.join(',') : link;
  if (!value) return undefined;
  const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(value);
  if (!match) return undefined;
  try {
    return new URL(match[1]!, 'http://x').searchParams.get('last') ?? undefined;
  } catch {
    return undefined;
  }
}

/** The URL of a `rel="next"` Link, resolved against the registry's base; only on the same origin. */
function nextUrl(link: string | string[] | undefined, base: URL): URL | undefined {
  const value = Array.isArray(link) ? link.join(',') : link;
  const match = value ? /<([^>]*)>\s*;\s*rel="?next"?/.exec(value) : null;
  if (!match) return undefined;
  try {
    const url = new URL(match[1]!, base);
    return url.origin === base.origin ? url : undefined;
  } catch {
    return undefined;
  }
}

function descriptorsOf(json: Record<string, unknown>): RemoteDescriptor[] {
  const manifests = Array.isArray(json.manifests) ? json.manifests : [];
  return manifests.filter(
    (m): m is RemoteDescriptor =>
      typeof m === 'object' && m !== null && typeof (m as RemoteDescriptor).digest === 'string' && typeof (m as RemoteDescriptor).mediaType === 'string',
  );
}

function mediaTypeInBody(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
    return typeof json.mediaType === 'string' ? json.mediaType : undefined;
  } catch {
    return undefined;
  }
}

function parseRemoteDigest(value: string, host: string): Digest {
  try {
    return parseDigest(value);
  } catch {
    throw new RemoteError('invalid', `${host} named an invalid digest`);
  }
}

