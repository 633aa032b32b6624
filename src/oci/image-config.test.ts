import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentTypeOf } from './content-types.js';
import { parseImageConfig } from './image-config.js';
import { parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const desc = (mediaType: string, c: string) => ({ mediaType, digest: `sha256:${c.repeat(64)}`, size: 1 });

describe('parseImageConfig', () => {
  it('reads the platform, created time, labels and history of an image config', () => {
    const config = parseImageConfig(
      json({
        architecture: 'arm',
        os: 'linux',
        variant: 'v7',
        created: '2024-05-01T12:00:00.5Z',
        config: { Labels: { 'org.opencontainers.image.description': 'A web server', n: 1 } },
        history: [{ created_by: '/bin/sh -c #(nop) ADD file:abc in /' }, { created_by: 'CMD ["nginx"]', empty_layer: true }, 'junk', {}],
      }),
    );
    assert.deepEqual(config, {
      platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
      created: Date.parse('2024-05-01T12:00:00.5Z'),
      labels: { 'org.opencontainers.image.description': 'A web server' },
      history: [{ createdBy: '/bin/sh -c #(nop) ADD file:abc in /', emptyLayer: false }, { createdBy: 'CMD ["nginx"]', emptyLayer: true }, { emptyLayer: false }],
    });
  });

  it('leaves out what is missing or odd instead of refusing, and cuts long build steps', () => {
    assert.deepEqual(parseImageConfig(json({ os: 'linux', created: 'yesterday', config: null, history: {} })), { labels: {}, history: [] });
    assert.equal(parseImageConfig(Buffer.from('not json')), undefined);
    assert.equal(parseImageConfig(json([1, 2])), undefined);
    const long = parseImageConfig(json({ history: [{ created_by: 'x'.repeat(10_000) }] }));
    assert.equal(long?.history[0]?.createdBy?.length, 4096);
  });
});

describe('contentTypeOf', () => {
  const manifest = (config: string, extra: Record<string, unknown> = {}) =>
    parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: desc(config, '1'), layers: [], ...extra }), undefined);

  it('tells images, indexes, Helm charts and other artifacts apart', () => {
    assert.equal(contentTypeOf(manifest(MediaType.OciConfig)), 'image');
    assert.equal(contentTypeOf(manifest(MediaType.DockerConfig)), 'image');
    assert.equal(contentTypeOf(manifest(MediaType.HelmConfig)), 'helm');
    assert.equal(contentTypeOf(manifest(MediaType.OciEmpty, { artifactType: 'application/vnd.example.sbom' })), 'artifact');
    assert.equal(contentTypeOf(manifest(MediaType.OciConfig, { artifactType: 'application/vnd.example.signature' })), 'artifact');
    assert.equal(contentTypeOf(parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }), undefined)), 'index');
  });
});
