/**
 * Helpers for HTTP tests of the OCI distribution API: digests, blob pushes, manifest builders,
 * raw requests (node:http, for paths fetch would normalize and for bodies it cannot abort) and
 * the assertion every error response must pass.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export const MT = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

// ---- digests and bytes ----------------------------------------------------------------------

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Buffer | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

/** Random bytes, so that no two tests share a blob by accident. */
export function randomBlob(size: number): Buffer {
  return randomBytes(size);
}

/** A unique, valid repository name component. */
export function uniqueName(prefix = 'repo'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A Buffer as a fetch body (the DOM typings want an ArrayBuffer-backed view). */
export function bin(data: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

// ---- descriptors and manifests --------------------------------------------------------------

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
  urls?: string[];
}

export function descriptorOf(mediaType: string, data: Buffer, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: sha256(data), size: data.length, ...extra };
}

export interface ImageManifestOptions {
  config: Descriptor;
  layers?: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** leave `mediaType` out of the body (Helm, ORAS) */
  omitMediaType?: boolean;
}

export function ociManifest(options: ImageManifestOptions): Record<string, unknown> {
  return {
    schemaVersion: 2,
    ...(options.omitMediaType ? {} : { mediaType: MT.OciManifest }),
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: options.config,
    layers: options.layers ?? [],
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
}

export function dockerManifest(options: { config: Descriptor; layers?: Descriptor[] }): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MT.DockerManifest, config: options.config, layers: options.layers ?? [] };
}

export function ociIndex(
  manifests: Descriptor[],
  extra: { subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {},
): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MT.OciIndex,
    ...(extra.artifactType ? { artifactType: extra.artifactType } : {}),
    manifests,
    ...(extra.subject ? { subject: extra.subject } : {}),
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
  };
}

export function dockerManifestList(manifests: Descriptor[]): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MT.DockerManifestList, manifests };
}

// ---- pushing --------------------------------------------------------------------------------

export interface PushedBlob {
  digest: string;
  size: number;
  bytes: Buffer;
}

/** Credentials of a push: a bearer token (token-mode servers), or none (open mode). */
export interface PushAuth {
  token?: string;
}

function authHeaders(auth: PushAuth): Record<string, string> {
  return auth.token ? { authorization: `Bearer ${auth.token}` } : {};
}

/** Pushes a blob in one POST ?digest= request and checks the 201. */
export async function pushBlob(base: string, repo: string, data: Buffer, auth: PushAuth = {}): Promise<PushedBlob> {
  const digest = sha256(data);
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
    method: 'POST',
    headers: { ...authHeaders(auth), 'content-type': 'application/octet-stream' },
    body: bin(data),
  });
  const text = await res.text();
  assert.equal(res.status, 201, `pushing a blob to ${repo}: ${text}`);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  return { digest, size: data.length, bytes: data };
}

/** Starts an upload session and checks the 202; `path` is the relative Location. */
export async function startUpload(base: string, repo: string): Promise<{ path: string; uuid: string; url: string }> {
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await res.arrayBuffer();
  assert.equal(res.status, 202, `starting an upload in ${repo}`);
  const path = res.headers.get('location');
  const uuid = res.headers.get('docker-upload-uuid');
  assert.ok(path, 'Location header');
  assert.ok(uuid, 'Docker-Upload-UUID header');
  return { path, uuid, url: new URL(path, base).toString() };
}

/** Appends `url ? query` to an upload URL, which may already hold a query. */
export function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

export async function putManifest(
  base: string,
  repo: string,
  reference: string,
  body: Buffer | Record<string, unknown>,
  contentType?: string,
  auth: PushAuth = {},
): Promise<Response> {
  const bytes = Buffer.isBuffer(body) ? body : jsonBytes(body);
  const type = contentType ?? (Buffer.isBuffer(body) ? undefined : (body.mediaType as string | undefined));
  return fetch(`${base}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...authHeaders(auth), ...(type ? { 'content-type': type } : {}) },
    body: bin(bytes),
  });
}

/** PUTs a manifest and checks the 201; returns its digest and the bytes pushed. */
export async function pushManifest(
  base: string,
  repo: string,
  reference: string,
  body: Buffer | Record<string, unknown>,
  contentType?: string,
  auth: PushAuth = {},
): Promise<{ digest: string; bytes: Buffer; size: number }> {
  const bytes = Buffer.isBuffer(body) ? body : jsonBytes(body);
  const res = await putManifest(base, repo, reference, bytes, contentType ?? (Buffer.isBuffer(body) ? undefined : (body.mediaType as string)), auth);
  const text = await res.text();
  assert.equal(res.status, 201, `pushing manifest ${repo}:${reference}: ${text}`);
  const digest = sha256(bytes);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  return { digest, bytes, size: bytes.length };
}

// ---- raw requests ---------------------------------------------------------------------------

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request over node:http, the path sent exactly as given (fetch resolves `..` and adds
 * `Accept: *\/*`). Resolves on the response even when the server answers before the body is sent.
 */
export function rawRequest(
  base: string,
  options: { method?: string; path: string; headers?: Record<string, string | number | string[]>; body?: Buffer | string },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: { connection: 'close', ...options.headers },
      agent: false,
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

// ---- assertions -----------------------------------------------------------------------------

export interface OciErrorBody {
  errors: Array<{ code: string; message: string; detail?: unknown }>;
}

/**
 * Checks that a response is an OCI error: the status, a JSON content type, the API version header
 * and the `{errors: [{code, message}]}` envelope with the expected code (a HEAD has no body).
 * Returns the envelope (undefined for HEAD).
 */
export async function assertOciError(
  res: Response | RawResponse,
  status: number,
  code: string,
  options: { head?: boolean; message?: RegExp; /** check Docker-Distribution-API-Version (default true) */ apiVersion?: boolean } = {},
): Promise<OciErrorBody | undefined> {
  const header = (name: string): string | undefined => {
    if (res instanceof Response) return res.headers.get(name) ?? undefined;
    const value = res.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const text = res instanceof Response ? await res.text() : res.body.toString('utf8');
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.match(header('content-type') ?? '', /^application\/json\b/, 'error content type');
  if (options.apiVersion !== false) assert.equal(header('docker-distribution-api-version'), 'registry/2.0');
  if (options.head) {
    assert.equal(text, '', 'a HEAD error has no body');
    return undefined;
  }
  let body: OciErrorBody;
  try {
    body = JSON.parse(text) as OciErrorBody;
  } catch {
    assert.fail(`error body is not JSON: ${text.slice(0, 200)}`);
  }
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `OCI envelope: ${text}`);
  for (const error of body.errors) {
    assert.equal(typeof error.code, 'string');
    assert.equal(typeof error.message, 'string');
    assert.ok(error.message.length > 0, 'error message is not empty');
  }
  assert.equal(body.errors[0]!.code, code, `error code: ${text}`);
  if (options.message) assert.match(body.errors[0]!.message, options.message);
  return body;
}

/** Reads a full response body as bytes. */
export async function bodyOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}
