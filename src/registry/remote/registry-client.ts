import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { digestAlgorithm, isDigestLike, makeDigest, parseDigest, type Digest } from '../../oci/digest.js';
import { bareMediaType, MANIFEST_MEDIA_TYPES } from '../../oci/media-types.js';
import { systemClock, type Clock } from '../ports.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { ConnectionError, discard, readBody, send } from './http.js';

export interface RemoteCredentials {
  username: string;
  password: string;
}

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

/**
 * Why a request to another registry failed: `unreachable` (no connection, a stall, a 5xx: the
 * registry is down or overloaded), `refused` (401/403: credentials or rights), `limited` (429),
 * `invalid` (it answered something that is not what the spec says).
 */
export class RemoteError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'refused' | 'limited' | 'invalid',
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RemoteError';
  }
}

/** Every manifest type Pier stores: the other registry serves what it holds, as it is. */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

const TOKEN_MARGIN_MS = 10_000;
const REDIRECTS = 5;

/**
 * A client of another OCI registry, for the pull-through cache and replication. It speaks the
 * Docker token spec: a request answered 401 with `WWW-Authenticate: Bearer realm=...,service=...`
 * gets a token from the realm (with the configured username and password as Basic credentials,
 * or anonymously) for exactly the scopes it needs, and tries once more; tokens are kept until
 * they expire. A registry that asks for Basic gets the credentials on every request.
 */
export class RegistryClient {
  readonly base: URL;
  readonly host: string;
  readonly #credentials: RemoteCredentials | undefined;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #tokens = new Map<string, { header: string; expiresAt: number }>();
  /** the registry's challenge, once seen: tokens for new scopes are asked for without a 401 first */
  #challenge: Challenge | undefined;

  constructor(options: RemoteRegistryOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.host = this.base.host;
    this.#credentials = options.credentials;
    this.#clock = options.clock ?? systemClock;
    this.#idleMs = options.idleMs ?? 60_000;
  }

  // ---- manifests ----------------------------------------------------------------------------

  /** HEAD: where a tag points (Docker-Content-Digest), without spending the registry's pull limit; undefined when unknown. */
  async headManifest(repository: string, reference: string, idleMs?: number): Promise<RemoteManifest | undefined> {
    const response = await this.request('HEAD', `${repository}/manifests/${reference}`, pull(repository), { headers: { accept: MANIFEST_ACCEPT }, idleMs });
    discard(response);
    if (response.statusCode === 404) return undefined;
    await this.#expect(response, [200], `HEAD manifest ${repository}:${reference}`);
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
    await this.#expect(response, [200], `GET manifest ${repository}:${reference}`);
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
    await this.#expect(response, [201, 200, 202], `PUT manifest ${repository}:${reference}`);
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
    await this.#expect(response, [200], `HEAD blob ${repository}@${digest}`);
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
    await this.#expect(response, [200], `GET blob ${repository}@${digest}`);
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
    await this.#expect(response, [202], `mount ${digest} into ${repository}`);
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
    await this.#expect(started, [202], `start an upload of ${digest} to ${repository}`);
    const location = started.headers.location;
    if (!location) throw new RemoteError('invalid', `${this.host} started an upload without a Location`);
    const target = this.#resolve(location);
    target.searchParams.set('digest', digest);
    const response = await this.request('PUT', target, push(repository), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: open,
    });
    discard(response);
    await this.#expect(response, [201, 204], `upload ${digest} to ${repository}`);
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
    await this.#expect(response, [200], `tags of ${repository}`);
    const json = await this.#json(response);
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
      await this.#expect(response, [200], 'the catalog');
      const json = await this.#json(response);
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
    const response = await this.request('GET', `${repository}/referrers/${digest}`, pull(repository), { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    if (response.statusCode === 200) {
      const json = await this.#json(response);
      return descriptorsOf(json);
    }
    discard(response);
    if (response.statusCode !== 404 && response.statusCode !== 405 && response.statusCode !== 400) {
      await this.#expect(response, [200], `referrers of ${digest}`);
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
    const key = scopes.join(' ');
    const streamed = typeof options.body === 'function';
    let authorization = this.#cached(key);
    if (authorization === undefined && streamed) authorization = await this.#prepare(scopes);
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
    const challenge = parseChallenge(response.headers['www-authenticate']);
    if (!challenge) throw new RemoteError('refused', `${this.host} requires authentication but sent no challenge`, 401);
    this.#challenge = challenge;
    const fresh = await this.#authorize(challenge, scopes);
    if (fresh === undefined || fresh === authorization) throw this.#refused();
    const retried = await attempt(fresh);
    if (retried.statusCode === 401 && challenge.scheme === 'basic') {
      discard(retried);
      throw this.#refused();
    }
    return retried;
  }

  #refused(): RemoteError {
    return new RemoteError('refused', `${this.host} refused ${this.#credentials ? `the credentials of ${this.#credentials.username}` : 'anonymous access'} (401)`, 401);
  }

  /** Credentials for a request that cannot be sent twice: learns the challenge from `/v2/` when needed. */
  async #prepare(scopes: string[]): Promise<string | undefined> {
    if (!this.#challenge) {
      const probe = await send({ method: 'GET', url: new URL('v2/', this.base), headers: { 'user-agent': USER_AGENT }, idleMs: this.#idleMs }).catch((error: unknown) => {
        throw asRemote(error, this.host);
      });
      discard(probe);
      if (probe.statusCode !== 401) return undefined;
      const challenge = parseChallenge(probe.headers['www-authenticate']);
      if (!challenge) return undefined;
      this.#challenge = challenge;
    }
    return this.#authorize(this.#challenge, scopes);
  }

  #cached(key: string): string | undefined {
    if (this.#challenge?.scheme === 'basic') return this.#basic();
    const token = this.#tokens.get(key);
    if (token && token.expiresAt > this.#clock.now()) return token.header;
    this.#tokens.delete(key);
    return undefined;
  }

  #basic(): string | undefined {
    const c = this.#credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  /** A token from the challenge's realm for `scopes` (Basic credentials when configured), kept until it expires. */
  async #authorize(challenge: Challenge, scopes: string[]): Promise<string | undefined> {
    if (challenge.scheme === 'basic') return this.#basic();
    if (challenge.scheme !== 'bearer') throw new RemoteError('refused', `${this.host} asks for ${challenge.scheme} authentication, which Pier does not speak`, 401);
    const realm = challenge.params.realm;
    if (!realm) throw new RemoteError('invalid', `${this.host} sent a Bearer challenge without a realm`, 401);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RemoteError('invalid', `${this.host} sent an invalid token realm`, 401);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const basic = this.#basic();
    const response = await send({
      method: 'GET',
      url,
      headers: { 'user-agent': USER_AGENT, accept: 'application/json', ...(basic ? { authorization: basic } : {}) },
      idleMs: this.#idleMs,
    }).catch((error: unknown) => {
      throw asRemote(error, url.host);
    });
    if (response.statusCode === 401 || response.statusCode === 403) {
      discard(response);
      throw new RemoteError('refused', `the token service of ${this.host} refused ${this.#credentials ? `the credentials of ${this.#credentials.username}` : 'an anonymous token'} (${response.statusCode})`, response.statusCode);
    }
    await this.#expect(response, [200], 'a token');
    const json = await this.#json(response);
    const token = typeof json.token === 'string' ? json.token : typeof json.access_token === 'string' ? json.access_token : undefined;
    if (!token) throw new RemoteError('invalid', `the token service of ${this.host} answered without a token`);
    const lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
    const header = `Bearer ${token}`;
    this.#tokens.set(scopes.join(' '), { header, expiresAt: this.#clock.now() + Math.max(1_000, lifetime * 1000 - TOKEN_MARGIN_MS) });
    return header;
  }

  async #expect(response: IncomingMessage, statuses: number[], what: string): Promise<void> {
    const status = response.statusCode ?? 0;
    if (statuses.includes(status)) return;
    const detail = await errorDetail(response);
    const message = `${this.host}: ${what}: ${status}${detail ? ` ${detail}` : ''}`;
    if (status === 401 || status === 403) throw new RemoteError('refused', message, status);
    if (status === 429) throw new RemoteError('limited', message, status);
    if (status >= 500) throw new RemoteError('unreachable', message, status);
    throw new RemoteError('invalid', message, status);
  }

  async #json(response: IncomingMessage): Promise<Record<string, unknown>> {
    const body = await readBody(response, 16 * 1024 * 1024).catch((error: unknown) => {
      throw asRemote(error, this.host);
    });
    try {
      const json = JSON.parse(body.toString('utf8')) as unknown;
      if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw new RemoteError('invalid', `${this.host} answered something that is not a JSON object`);
  }

  #resolve(location: string): URL {
    return new URL(location, this.base);
  }
}

const USER_AGENT = 'pier (pull-through cache and replication)';

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

/** The message of an OCI error envelope, when the answer has one (a few KB at most). */
async function errorDetail(response: IncomingMessage): Promise<string | undefined> {
  if (response.readableEnded) return undefined;
  try {
    const body = await readBody(response, 64 * 1024);
    const json = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const first = json.errors?.[0];
    if (first) return [first.code, first.message].filter(Boolean).join(': ');
  } catch {
    // no envelope
  }
  return undefined;
}

function asRemote(error: unknown, host: string): Error {
  if (error instanceof RemoteError) return error;
  if (error instanceof ConnectionError) return new RemoteError('unreachable', error.message, undefined, { cause: error });
  return new RemoteError('unreachable', `${host}: ${(error as Error).message}`, undefined, { cause: error });
}
