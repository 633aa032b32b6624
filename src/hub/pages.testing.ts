import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { MetadataDatabase } from '../metadata/database.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { MediaType } from '../oci/media-types.js';
import type { RepositoryName } from '../oci/names.js';
import { Registry } from '../registry/registry.js';
import { createMemoryStore } from '../storage/memory-store.js';
import { Hub } from './hub.js';

/**
 * Test support for repository pages, tags and search (not shipped): a hub and a registry over a
 * fresh database, and pushes of real content (configs with platforms, labels and history; indexes;
 * Helm charts) through the registry engine, as a client's push would go.
 */
export interface PagesFixture {
  hub: Hub;
  registry: Registry;
  database: MetadataDatabase;
  clock: { now(): number };
  advance(ms: number): void;
  close(): Promise<void>;
}

export async function openPagesFixture(open: () => Promise<MetadataDatabase>): Promise<PagesFixture> {
  let now = Date.UTC(2026, 0, 15, 12);
  const clock = { now: () => now };
  const database = await open();
  const hub = new Hub(database.db, clock);
  const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate, events: hub.pullStats });
  return {
    hub,
    registry,
    database,
    clock,
    advance: (ms) => {
      now += ms;
    },
    close: () => database.close(),
  };
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function pushBlob(registry: Registry, repository: string, data: Buffer, account?: string): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  await registry.uploads.monolithic(repository as RepositoryName, digest, Readable.from([data]), { length: data.length }, { account });
  return { digest, size: data.length };
}

export interface ImageOptions {
  architecture?: string;
  os?: string;
  variant?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** build steps; `empty` ones add no layer. Default: one step per layer */
  history?: Array<{ createdBy: string; empty?: boolean }>;
  /** sizes of the layers (random bytes); default one layer of 100 bytes */
  layers?: number[];
  created?: string;
  /** who pushes it */
  account?: string;
}

export interface PushedManifest {
  digest: string;
  size: number;
  /** config + layers */
  imageSize: number;
  configDigest?: string;
  layers: Array<{ digest: string; size: number }>;
}

/** Pushes an OCI image (config + layers) and tags it. */
export async function pushTestImage(registry: Registry, repository: string, tag: string | undefined, options: ImageOptions = {}): Promise<PushedManifest> {
  const layers: Array<{ digest: string; size: number }> = [];
  for (const size of options.layers ?? [100]) layers.push(await pushBlob(registry, repository, randomBytes(size), options.account));
  const config = json({
    architecture: options.architecture ?? 'amd64',
    os: options.os ?? 'linux',
    ...(options.variant ? { variant: options.variant } : {}),
    created: options.created ?? '2026-01-01T00:00:00Z',
    config: { Labels: options.labels ?? {} },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    history: (options.history ?? layers.map((_, i) => ({ createdBy: `ADD layer${i} /`, empty: false }))).map((h) => ({ created_by: h.createdBy, ...(h.empty ? { empty_layer: true } : {}) })),
  });
  const configBlob = await pushBlob(registry, repository, config, options.account);
  const manifest = json({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, ...configBlob },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  });
  const pushed = await registry.manifests.put(repository as RepositoryName, tag ?? sha256(manifest), manifest, MediaType.OciManifest, [], { account: options.account });
  return { digest: pushed.digest, size: manifest.length, imageSize: configBlob.size + layers.reduce((s, l) => s + l.size, 0), configDigest: configBlob.digest, layers };
}

/** Pushes an index of manifests already pushed, each with its platform (an attestation has `unknown/unknown`). */
export async function pushTestIndex(
  registry: Registry,
  repository: string,
  tag: string,
  children: Array<{ manifest: PushedManifest; platform: { architecture: string; os: string; variant?: string } }>,
  options: { annotations?: Record<string, string>; account?: string } = {},
): Promise<PushedManifest> {
  const index = json({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: children.map((c) => ({ mediaType: MediaType.OciManifest, digest: c.manifest.digest, size: c.manifest.size, platform: c.platform })),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  });
  const pushed = await registry.manifests.put(repository as RepositoryName, tag, index, MediaType.OciIndex, [], { account: options.account });
  return { digest: pushed.digest, size: index.length, imageSize: 0, layers: [] };
}

/** Pushes a Helm chart as `helm push` does: a Helm config and one chart layer. */
export async function pushTestChart(registry: Registry, repository: string, tag: string, account?: string): Promise<PushedManifest> {
  const config = await pushBlob(registry, repository, json({ name: 'demo', version: tag, apiVersion: 'v2' }), account);
  const chart = await pushBlob(registry, repository, randomBytes(300), account);
  const manifest = json({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.HelmConfig, ...config },
    layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...chart }],
    annotations: { 'org.opencontainers.image.description': 'A demo chart' },
  });
  const pushed = await registry.manifests.put(repository as RepositoryName, tag, manifest, MediaType.OciManifest, [], { account });
  return { digest: pushed.digest, size: manifest.length, imageSize: config.size + chart.size, configDigest: config.digest, layers: [chart] };
}
