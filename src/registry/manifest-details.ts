import type { Readable } from 'node:stream';
import type { ManifestDetailsRecord, PlatformRecord } from '../metadata/registry-index.js';
import { contentTypeOf } from '../oci/content-types.js';
import type { Digest } from '../oci/digest.js';
import { DESCRIPTION_ANNOTATION, isImageConfigMediaType, parseImageConfig } from '../oci/image-config.js';
import { defaultPlatformChild, type Descriptor, type ParsedManifest } from '../oci/manifest.js';

/**
 * Configs larger than this are not read at push (a config is a few kilobytes; a huge one is
 * someone's experiment): the manifest is stored all the same, without platform or history.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface DetailSources {
  /** the config blob's bytes (at most `limit`), or undefined when it is not there or larger than `limit` */
  readConfig(digest: Digest, limit: number): Promise<Buffer | undefined>;
  /** what was stored for the child manifests of an index (pushed before it) */
  children(digests: string[]): Promise<Map<string, ManifestDetailsRecord & { pushedAt: number }>>;
}

/**
 * What a hub shows of a manifest, computed once when it is pushed: content type, size, platform,
 * build time and description of an image (from its config, read here, bounded); for an index,
 * its platforms with their sizes (from its children, stored before it).
 */
export async function describeManifest(manifest: ParsedManifest, sources: DetailSources): Promise<ManifestDetailsRecord> {
  const contentType = contentTypeOf(manifest);
  const ownDescription = manifest.annotations?.[DESCRIPTION_ANNOTATION];
  if (manifest.kind === 'index') return describeIndex(manifest, ownDescription, sources);

  const config = manifest.config!;
  const size = config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
  const details: ManifestDetailsRecord = { contentType, size, configDigest: config.digest };
  if (isImageConfigMediaType(config.mediaType)) {
    const bytes = await sources.readConfig(config.digest, MAX_CONFIG_BYTES);
    const parsed = bytes && parseImageConfig(bytes);
    if (parsed) {
      if (parsed.platform) details.platform = parsed.platform;
      if (parsed.created !== undefined) details.created = parsed.created;
      details.history = parsed.history;
      details.description = ownDescription ?? parsed.labels[DESCRIPTION_ANNOTATION];
    }
  }
  details.description ??= ownDescription;
  if (details.description === undefined) delete details.description;
  return details;
}

async function describeIndex(manifest: ParsedManifest, ownDescription: string | undefined, sources: DetailSources): Promise<ManifestDetailsRecord> {
  const shown = manifest.manifests.filter((m) => !isAttestation(m));
  const children = await sources.children([...new Set(shown.map((m) => m.digest))]);
  const platforms: PlatformRecord[] = [];
  for (const descriptor of shown) {
    const child = children.get(descriptor.digest);
    const platform = descriptor.platform ?? child?.platform;
    if (!platform) continue;
    platforms.push({
      digest: descriptor.digest,
      os: platform.os,
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      size: child?.size ?? descriptor.size,
      pushedAt: child?.pushedAt ?? null,
    });
  }
  // the description of the platform a plain `docker pull` gets, else of the first that has one
  const preferred = defaultPlatformChild({ ...manifest, manifests: shown });
  const description =
    ownDescription ??
    (preferred && children.get(preferred.digest)?.description) ??
    shown.map((m) => children.get(m.digest)?.description).find((d) => d !== undefined);
  return {
    contentType: 'index',
    size: platforms.reduce((sum, p) => sum + p.size, 0),
    platforms,
    ...(description !== undefined ? { description } : {}),
  };
}

/** BuildKit's provenance and SBOM manifests sit in an index as `unknown/unknown` platforms: not images. */
function isAttestation(descriptor: Descriptor): boolean {
  if (descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return true;
  return descriptor.platform?.os === 'unknown' && descriptor.platform.architecture === 'unknown';
}

/** Reads a stream to its end, or stops (undefined) past `limit` bytes. */
export async function readBounded(stream: Readable, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.destroy();
      return undefined;
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}
