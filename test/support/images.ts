/**
 * Test images: one builder (`makeImage`) and one way to push them (`pushImage`), over HTTP (open, or
 * with a bearer token) or straight into a Registry engine. Every image is a valid one: gzip'd tar
 * layers of random files and a config that lists their diff_ids, so docker, skopeo and the other
 * clients can pull what a test pushed this way.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { RepositoryName } from '../../src/oci/names.js';
import type { Registry } from '../../src/registry/registry.js';
import { MT, dockerManifest, jsonBytes, ociManifest, pushBlob, pushManifest, sha256, type Descriptor } from './oci.js';

export const OCI_MANIFEST = MT.OciManifest;
export const OCI_INDEX = MT.OciIndex;
export const DOCKER_MANIFEST = MT.DockerManifest;
export const DOCKER_LIST = MT.DockerManifestList;

/** every manifest type a client may ask for */
export const ACCEPT_ALL = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

/** A ustar archive of regular files (enough for an image layer). */
function tar(files: Record<string, Uint8Array>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const header = Buffer.alloc(512);
    const field = (value: string, offset: number, length: number) => header.write(value, offset, length, 'ascii');
    const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
    field(name, 0, 100);
    field(octal(0o644, 8), 100, 8);
    field(octal(0, 8), 108, 8);
    field(octal(0, 8), 116, 8);
    field(octal(content.length, 12), 124, 12);
    field(octal(0, 12), 136, 12);
    field('        ', 148, 8);
    field('0', 156, 1);
    field('ustar\u000000', 257, 8);
    let sum = 0;
    for (const byte of header) sum += byte;
    field(`${octal(sum, 7)}\u0000`, 148, 8);
    blocks.push(header, Buffer.from(content));
    const pad = (512 - (content.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export interface ImageBlob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface TestImage {
  /** of the manifest */
  mediaType: string;
  /** the manifest's bytes, as pushed */
  manifest: Buffer;
  digest: string;
  size: number;
  /** a descriptor of the manifest, for indexes and subjects (with the platform, when one was given) */
  descriptor: Descriptor;
  config: ImageBlob;
  layers: ImageBlob[];
}

export interface ImageOptions {
  /** default 1 */
  layers?: number;
  /** random bytes in each layer's one file (default 512) */
  layerBytes?: number;
  /** default linux/amd64; when given, the descriptor carries it too */
  platform?: { architecture: string; os: string; variant?: string };
  /** Docker schema 2 media types instead of OCI's */
  docker?: boolean;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  configMediaType?: string;
}

function blobOf(mediaType: string, bytes: Buffer): ImageBlob {
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

/** A small valid image of its own random bytes (no two images share a blob by accident). */
export function makeImage(options: ImageOptions = {}): TestImage {
  const platform = options.platform ?? { architecture: 'amd64', os: 'linux' };
  const layerType = options.docker ? MT.DockerLayer : MT.OciLayer;
  const layers: ImageBlob[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < (options.layers ?? 1); i++) {
    const archive = tar({ [`layer${i}/data.bin`]: randomBytes(options.layerBytes ?? 512) });
    diffIds.push(sha256(archive));
    layers.push(blobOf(layerType, gzipSync(archive)));
  }
  const config = blobOf(
    options.configMediaType ?? (options.docker ? MT.DockerConfig : MT.OciConfig),
    jsonBytes({
      ...platform,
      created: '2024-01-01T00:00:00Z',
      // a nonce: images without layers still differ
      config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/true'], Labels: { 'pier.test.nonce': randomBytes(8).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'pier test' })),
    }),
  );
  const descriptors = (blobs: ImageBlob[]) => blobs.map(({ mediaType, digest, size }) => ({ mediaType, digest, size }));
  const [configDescriptor] = descriptors([config]);
  const mediaType = options.docker ? MT.DockerManifest : MT.OciManifest;
  const manifest = jsonBytes(
    options.docker
      ? dockerManifest({ config: configDescriptor!, layers: descriptors(layers) })
      : ociManifest({
          config: configDescriptor!,
          layers: descriptors(layers),
          subject: options.subject,
          artifactType: options.artifactType,
          annotations: options.annotations,
        }),
  );
  const digest = sha256(manifest);
  return {
    mediaType,
    manifest,
    digest,
    size: manifest.length,
    descriptor: { mediaType, digest, size: manifest.length, ...(options.platform ? { platform: options.platform } : {}) },
    config,
    layers,
  };
}

export interface PushedImage extends TestImage {
  repository: string;
  /** the tag or digest it was pushed under */
  reference: string;
}

export interface PushImageOptions extends ImageOptions {
  /** an image made beforehand (the other options then make nothing) */
  image?: TestImage;
  /** over HTTP: a bearer token for every request */
  token?: string;
}

/**
 * Pushes an image (made here from `options`, or `options.image`): its blobs in one POST each, then
 * its manifest under `reference` (a tag, or the image's digest), checking every answer. `target`
 * is a server's base URL, or a Registry: then the engine stores it with no HTTP and no credentials
 * (as account `test`), for tests of what the hub and the CLI show about pushed repositories.
 */
export async function pushImage(target: string | Registry, repository: string, reference: string, options: PushImageOptions = {}): Promise<PushedImage> {
  const image = options.image ?? makeImage(options);
  const blobs = [image.config, ...image.layers];
  if (typeof target === 'string') {
    const auth = { token: options.token };
    for (const blob of blobs) await pushBlob(target, repository, blob.bytes, auth);
    await pushManifest(target, repository, reference, image.manifest, image.mediaType, auth);
  } else {
    const name = repository as RepositoryName;
    const actor = { account: 'test' };
    for (const blob of blobs) await target.uploads.monolithic(name, blob.digest, Readable.from([blob.bytes]), { length: blob.size }, actor);
    await target.manifests.put(name, reference, image.manifest, image.mediaType, [], actor);
  }
  return { ...image, repository, reference };
}

/** An OCI image index of the given images, each with its platform. */
export function makeIndex(children: Array<{ image: TestImage; architecture: string }>): { body: Buffer; digest: string } {
  const body = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map(({ image, architecture }) => ({
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.size,
      platform: { architecture, os: 'linux' },
    })),
  });
  return { body, digest: sha256(body) };
}

export interface FetchedManifest {
  status: number;
  mediaType: string | null;
  digestHeader: string | null;
  body: Buffer;
  digest: string;
}

/** GET a manifest, accepting every manifest type. */
export async function fetchManifest(baseUrl: string, repository: string, reference: string): Promise<FetchedManifest> {
  const res = await fetch(`${baseUrl}/v2/${repository}/manifests/${reference}`, { headers: { accept: ACCEPT_ALL } });
  const body = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    mediaType: res.headers.get('content-type'),
    digestHeader: res.headers.get('docker-content-digest'),
    body,
    digest: sha256(body),
  };
}
