import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from './errors.js';
import { defaultPlatformChild, parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, extra = {}) => ({ mediaType, digest: d(c), size: 1, ...extra });
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const invalid = (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_INVALID';

describe('parseManifest', () => {
  it('reads an OCI image manifest with subject and artifact type from its config', () => {
    const m = parseManifest(
      json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc('application/x.helm.config', '1'), layers: [desc('application/x.tar', '2')], subject: desc(MediaType.OciManifest, '3') }),
      undefined,
    );
    assert.equal(m.kind, 'image');
    assert.equal(m.artifactType, 'application/x.helm.config');
    assert.equal(m.subject?.digest, d('3'));
    assert.equal(m.layers.length, 1);
  });

  it('takes the media type from Content-Type when the body omits it (Helm)', () => {
    const m = parseManifest(json({ schemaVersion: 2, config: desc('a/b', '1'), layers: [] }), 'application/vnd.oci.image.manifest.v1+json; charset=utf-8');
    assert.equal(m.mediaType, MediaType.OciManifest);
  });

  it('prefers an explicit artifactType', () => {
    const m = parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/x.sig', config: desc(MediaType.OciEmpty, '1'), layers: [] }), undefined);
    assert.equal(m.artifactType, 'application/x.sig');
  });

  it('reads indexes and finds the linux/amd64 child', () => {
    const m = parseManifest(
      json({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifestList,
        manifests: [desc(MediaType.DockerManifest, '1', { platform: { os: 'linux', architecture: 'arm64' } }), desc(MediaType.DockerManifest, '2', { platform: { os: 'linux', architecture: 'amd64' } })],
      }),
      MediaType.DockerManifestList,
    );
    assert.equal(m.kind, 'index');
    assert.equal(defaultPlatformChild(m)?.digest, d('2'));
  });

  it('refuses schema 1 with a message that says so', () => {
    assert.throws(() => parseManifest(json({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), MediaType.DockerSchema1Signed), (e: unknown) => invalid(e) && /schema 1/.test((e as Error).message));
  });

  it('refuses bad JSON, wrong schemaVersion, unknown media types, mismatches and bad descriptors', () => {
    assert.throws(() => parseManifest(Buffer.from('{nope'), undefined), invalid);
    assert.throws(() => parseManifest(json([]), undefined), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 3, config: desc('a/b', '1') }), undefined), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: 'application/x.unknown', config: desc('a/b', '1') }), undefined), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, config: desc('a/b', '1') }), 'application/x.unknown'), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }), MediaType.OciManifest), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: 'a/b', digest: 'sha256:bad', size: 1 }, layers: [] }), undefined), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc('a/b', '1', { size: -1 }), layers: [] }), undefined), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciIndex }), undefined), invalid);
    assert.throws(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc('a/b', '1'), annotations: { a: 1 } }), undefined), invalid);
  });
});
