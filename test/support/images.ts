import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** every manifest type a client may ask for */
export const ACCEPT_ALL = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A ustar archive of regular files (enough for an image layer). */
export function tar(files: Record<string, Uint8Array>): Buffer {
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

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256(data), size: data.length, data };
}

export interface TestImage {
  config: Blob;
  layers: Blob[];
  manifest: Buffer;
  digest: string;
}

/** A small valid OCI image: gzip'd tar layers of random files, and a config listing their diff_ids. */
export function makeImage(options: { architecture?: string; layers?: number; layerBytes?: number } = {}): TestImage {
  const architecture = options.architecture ?? 'amd64';
  const layers: Blob[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < (options.layers ?? 2); i++) {
    const archive = tar({ [`layer${i}/data.bin`]: randomBytes(options.layerBytes ?? 20_000) });
    diffIds.push(sha256(archive));
    layers.push(blob(OCI_LAYER_GZIP, gzipSync(archive)));
  }
  const config = blob(
    OCI_CONFIG,
    Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/true'] },
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'pier test' })),
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return { config, layers, manifest, digest: sha256(manifest) };
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${await res.text()}`);
}

/** Pushes a blob in one POST ?digest= request. */
export async function pushBlob(baseUrl: string, repository: string, b: Blob): Promise<void> {
  const res = await fetch(`${baseUrl}/v2/${repository}/blobs/uploads/?digest=${b.digest}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
    body: new Uint8Array(b.data),
  });
  await expectStatus(res, 201, `push blob ${b.digest} to ${repository}`);
}

export async function pushManifest(baseUrl: string, repository: string, reference: string, mediaType: string, body: Buffer): Promise<void> {
  const res = await fetch(`${baseUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: new Uint8Array(body),
  });
  await expectStatus(res, 201, `push manifest ${repository}:${reference}`);
}

/** Pushes an image's blobs and manifest (to `tag`, or by digest when no tag is given). */
export async function pushImage(baseUrl: string, repository: string, image: TestImage, tag?: string): Promise<void> {
  for (const b of [image.config, ...image.layers]) await pushBlob(baseUrl, repository, b);
  await pushManifest(baseUrl, repository, tag ?? image.digest, OCI_MANIFEST, image.manifest);
}

/** An OCI image index of the given images, each with its platform. */
export function makeIndex(children: Array<{ image: TestImage; architecture: string }>): { body: Buffer; digest: string } {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map(({ image, architecture }) => ({
        mediaType: OCI_MANIFEST,
        digest: image.digest,
        size: image.manifest.length,
        platform: { architecture, os: 'linux' },
      })),
    }),
  );
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
