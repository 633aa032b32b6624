import { OciError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';
import { MediaType, MANIFEST_MEDIA_TYPES, bareMediaType, isIndexMediaType } from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Platform;
}

/** What the registry needs to know about a manifest; the bytes themselves are kept as pushed. */
export interface ParsedManifest {
  mediaType: string;
  /** image manifests: config + layers; indexes: manifests */
  kind: 'image' | 'index';
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  /** artifactType, or for an image manifest without one, its config's media type (spec: referrers) */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const fail = (message: string): never => {
  throw new OciError('MANIFEST_INVALID', message);
};

/**
 * Parses and validates a manifest body. The media type comes from the body's `mediaType` field or,
 * when the body omits it (allowed for OCI types, e.g. Helm charts), from the Content-Type header;
 * the two must agree when both are given.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return fail('manifest is not valid JSON');
  }
  if (!isObject(json)) return fail('manifest must be a JSON object');

  const header = manifestHeaderType(contentType);
  const declared = json.mediaType;
  if (declared !== undefined && typeof declared !== 'string') return fail('mediaType must be a string');
  if (json.schemaVersion === 1 || isSchema1(declared) || isSchema1(header)) {
    return fail('Docker image manifest schema 1 is not supported: push with a client that writes schema 2 or OCI manifests');
  }
  if (json.schemaVersion !== 2) return fail('schemaVersion must be 2');

  const mediaType = declared ?? header ?? guessOciType(json);
  if (declared !== undefined && header !== undefined && header !== declared) {
    return fail(`mediaType "${declared}" in the manifest does not match Content-Type "${header}"`);
  }
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw new OciError('MANIFEST_INVALID', `unsupported manifest media type "${mediaType}"`, {
      detail: { supported: MANIFEST_MEDIA_TYPES },
    });
  }

  const subject = json.subject === undefined ? undefined : descriptor(json.subject, 'subject');
  const annotations = stringMap(json.annotations, 'annotations');
  const artifactType = optionalString(json.artifactType, 'artifactType');

  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) return fail('an index must have a "manifests" array');
    const manifests = json.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    return { mediaType, kind: 'index', layers: [], manifests, subject, artifactType, annotations };
  }

  if (json.config === undefined) return fail('an image manifest must have a "config" descriptor');
  const config = descriptor(json.config, 'config');
  if (!Array.isArray(json.layers)) {
    if (json.layers !== undefined || mediaType === MediaType.DockerManifest) return fail('"layers" must be an array');
  }
  const layers = (Array.isArray(json.layers) ? json.layers : []).map((l, i) => descriptor(l, `layers[${i}]`));
  if (mediaType === MediaType.DockerManifest && config.mediaType === undefined) return fail('config.mediaType is required');
  return {
    mediaType,
    kind: 'image',
    config,
    layers,
    manifests: [],
    subject,
    artifactType: artifactType ?? config.mediaType,
    annotations,
  };
}

/** Generic JSON or binary content types say nothing about which manifest this is. */
function manifestHeaderType(contentType: string | undefined): string | undefined {
  const bare = bareMediaType(contentType);
  return bare === 'application/json' || bare === MediaType.OctetStream ? undefined : bare;
}

function isSchema1(mediaType: string | undefined): boolean {
  return mediaType === MediaType.DockerSchema1 || mediaType === MediaType.DockerSchema1Signed;
}

function guessOciType(json: Record<string, unknown>): string {
  if (Array.isArray(json.manifests)) return MediaType.OciIndex;
  if (json.config !== undefined) return MediaType.OciManifest;
  return fail('cannot tell the manifest media type: set "mediaType" or the Content-Type header');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) return fail(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) return fail(`${where}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string') return fail(`${where}.digest must be a string`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    return fail(`${where}.size must be a non-negative integer`);
  }
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch (error) {
    return fail(`${where}.digest: ${(error as Error).message}`);
  }
  const result: Descriptor = { mediaType, digest: parsed, size };
  const artifactType = optionalString(value.artifactType, `${where}.artifactType`);
  if (artifactType !== undefined) result.artifactType = artifactType;
  const annotations = stringMap(value.annotations, `${where}.annotations`);
  if (annotations !== undefined) result.annotations = annotations;
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string')) return fail(`${where}.urls must be strings`);
    result.urls = value.urls as string[];
  }
  if (value.platform !== undefined) {
    const p = value.platform;
    if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      return fail(`${where}.platform must have "architecture" and "os"`);
    }
    result.platform = { architecture: p.architecture, os: p.os };
    if (typeof p.variant === 'string') result.platform.variant = p.variant;
  }
  return result;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return fail(`${where} must be a string`);
  return value;
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    return fail(`${where} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The child a client that cannot read an index gets: linux/amd64, as Docker Hub serves it. */
export function defaultPlatformChild(index: ParsedManifest): Descriptor | undefined {
  return index.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
}
