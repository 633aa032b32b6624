import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MT,
  assertOciError,
  bin,
  bodyOf,
  descriptorOf,
  dockerManifest,
  dockerManifestList,
  jsonBytes,
  ociIndex,
  ociManifest,
  pushBlob,
  pushManifest,
  putManifest,
  randomBlob,
  rawRequest,
  sha256,
  uniqueName,
} from '../support/oci.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MiB = 1024 * 1024;

describe('manifests', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const manifestUrl = (repo: string, reference: string) => `${server.url}/v2/${repo}/manifests/${reference}`;

  /** GET and HEAD by tag and by digest all serve the pushed bytes, type and digest. */
  async function assertServed(repo: string, references: string[], bytes: Buffer, mediaType: string): Promise<void> {
    const digest = sha256(bytes);
    for (const reference of references) {
      const get = await fetch(manifestUrl(repo, reference));
      assert.equal(get.status, 200, `GET ${repo}:${reference}`);
      assert.equal(get.headers.get('content-type'), mediaType);
      assert.equal(get.headers.get('docker-content-digest'), digest);
      assert.equal(get.headers.get('content-length'), String(bytes.length));
      assert.deepEqual(await bodyOf(get), bytes, 'the exact bytes pushed');

      const head = await rawRequest(server.url, { method: 'HEAD', path: `/v2/${repo}/manifests/${reference}` });
      assert.equal(head.status, 200, `HEAD ${repo}:${reference}`);
      assert.equal(head.headers['content-type'], mediaType);
      assert.equal(head.headers['docker-content-digest'], digest);
      assert.equal(head.headers['content-length'], String(bytes.length));
      assert.equal(head.body.length, 0);
    }
  }

  describe('PUT, GET and HEAD of every manifest type', () => {
    it('Docker schema2 manifest', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ architecture: 'amd64', os: 'linux' }));
      const layer = await pushBlob(server.url, repo, randomBlob(100));
      const body = jsonBytes(
        dockerManifest({ config: descriptorOf(MT.DockerConfig, config.bytes), layers: [descriptorOf(MT.DockerLayer, layer.bytes)] }),
      );
      const res = await putManifest(server.url, repo, 'v1', body, MT.DockerManifest);
      assert.equal(res.status, 201);
      assert.equal(await res.text(), '');
      const digest = sha256(body);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.equal(res.headers.get('location'), `/v2/${repo}/manifests/${digest}`);
      assert.equal(res.headers.get('oci-subject'), null);
      await assertServed(repo, ['v1', digest], body, MT.DockerManifest);
    });

    it('Docker manifest list', async () => {
      const repo = `alice/${uniqueName()}`;
      const amd64 = await pushImage(server.url, repo, 'amd64', { docker: true, platform: { architecture: 'amd64', os: 'linux' } });
      const arm = await pushImage(server.url, repo, 'arm', { docker: true, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } });
      const body = jsonBytes(dockerManifestList([amd64.descriptor, arm.descriptor]));
      const pushed = await pushManifest(server.url, repo, 'multi', body, MT.DockerManifestList);
      await assertServed(repo, ['multi', pushed.digest], body, MT.DockerManifestList);
    });

    it('OCI image manifest', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'latest', { layers: 3 });
      await assertServed(repo, ['latest', image.digest], image.manifest, MT.OciManifest);
    });

    it('OCI index', async () => {
      const repo = `alice/${uniqueName()}`;
      const amd64 = await pushImage(server.url, repo, 'amd64', { platform: { architecture: 'amd64', os: 'linux' } });
      const arm64 = await pushImage(server.url, repo, 'arm64', { platform: { architecture: 'arm64', os: 'linux' } });
      const body = jsonBytes(ociIndex([amd64.descriptor, arm64.descriptor], { annotations: { 'org.opencontainers.image.title': 'multi' } }));
      const pushed = await pushManifest(server.url, repo, 'multi', body, MT.OciIndex);
      await assertServed(repo, ['multi', pushed.digest], body, MT.OciIndex);
    });

    it('an index nested in an index', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'img', { platform: { architecture: 'amd64', os: 'linux' } });
      const inner = await pushManifest(server.url, repo, 'inner', ociIndex([image.descriptor]));
      const outer = jsonBytes(ociIndex([{ mediaType: MT.OciIndex, digest: inner.digest, size: inner.size }]));
      const pushed = await pushManifest(server.url, repo, 'outer', outer, MT.OciIndex);
      await assertServed(repo, ['outer', pushed.digest], outer, MT.OciIndex);
    });

    it('an artifact manifest with artifactType and the empty config', async () => {
      const repo = `alice/${uniqueName()}`;
      const empty = await pushBlob(server.url, repo, Buffer.from('{}'));
      const sbom = await pushBlob(server.url, repo, jsonBytes({ spdxVersion: 'SPDX-2.3', n: uniqueName() }));
      const body = jsonBytes(
        ociManifest({
          artifactType: 'application/spdx+json',
          config: descriptorOf(MT.OciEmpty, empty.bytes),
          layers: [descriptorOf('application/spdx+json', sbom.bytes)],
          annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
        }),
      );
      const pushed = await pushManifest(server.url, repo, 'sbom', body, MT.OciManifest);
      await assertServed(repo, ['sbom', pushed.digest], body, MT.OciManifest);
    });

    it('an artifact manifest with a custom config media type', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ kind: 'wasm', id: uniqueName() }));
      const module = await pushBlob(server.url, repo, randomBlob(300));
      const body = jsonBytes(
        ociManifest({
          config: descriptorOf('application/vnd.wasm.config.v0+json', config.bytes),
          layers: [descriptorOf('application/vnd.wasm.content.layer.v1+wasm', module.bytes)],
        }),
      );
      const pushed = await pushManifest(server.url, repo, 'wasm', body, MT.OciManifest);
      await assertServed(repo, ['wasm', pushed.digest], body, MT.OciManifest);
    });

    it('a Helm-style manifest without mediaType in the body, typed by Content-Type', async () => {
      const repo = `charts/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ name: 'mychart', version: '0.1.0', apiVersion: 'v2' }));
      const chart = await pushBlob(server.url, repo, randomBlob(512));
      const manifest = ociManifest({
        omitMediaType: true,
        config: descriptorOf('application/vnd.cncf.helm.config.v1+json', config.bytes),
        layers: [descriptorOf('application/vnd.cncf.helm.chart.content.v1.tar+gzip', chart.bytes)],
      });
      assert.equal(manifest.mediaType, undefined);
      const body = jsonBytes(manifest);
      const pushed = await pushManifest(server.url, repo, '0.1.0', body, MT.OciManifest);
      await assertServed(repo, ['0.1.0', pushed.digest], body, MT.OciManifest);
    });

    it('a Helm-style index without mediaType in the body', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'img');
      const index = ociIndex([image.descriptor]);
      delete index.mediaType;
      const body = jsonBytes(index);
      const pushed = await pushManifest(server.url, repo, 'idx', body, MT.OciIndex);
      await assertServed(repo, ['idx'], body, MT.OciIndex);
      assert.equal(pushed.digest, sha256(body));
    });

    it('an OCI manifest pushed with a Content-Type carrying parameters', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes) }));
      await pushManifest(server.url, repo, 'params', body, `${MT.OciManifest}; charset=utf-8`);
      await assertServed(repo, ['params'], body, MT.OciManifest);
    });

    it('stores the bytes exactly as pushed: odd whitespace, key order, escapes and non-ASCII', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const layer = await pushBlob(server.url, repo, randomBlob(10));
      const text =
        `\n  {"layers" :[ {"size":${layer.size},   "digest":"${layer.digest}","mediaType":"${MT.OciLayer}"}\n],\n` +
        `\t"annotations": {"z":"\\u00e9t\\u00e9", "a": "caf\u00e9 ☕", "b":"1.0"},` +
        `"config":{"digest" : "${config.digest}", "mediaType":"${MT.OciConfig}","size":${config.size}},` +
        `  "schemaVersion":2,"mediaType":"${MT.OciManifest}"   }\r\n\n`;
      const body = Buffer.from(text, 'utf8');
      const pushed = await pushManifest(server.url, repo, 'odd', body, MT.OciManifest);
      assert.equal(pushed.digest, sha256(body));
      await assertServed(repo, ['odd', pushed.digest], body, MT.OciManifest);
    });

    it('accepts a non-distributable layer with urls that the registry does not hold', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const foreign = {
        mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
        digest: sha256(randomBlob(10)),
        size: 10,
        urls: ['https://example.com/layer.tar.gz'],
      };
      const body = jsonBytes(dockerManifest({ config: descriptorOf(MT.DockerConfig, config.bytes), layers: [foreign] }));
      await pushManifest(server.url, repo, 'windows', body, MT.DockerManifest);
    });

    it('answers a PUT by digest with that digest in Location and Docker-Content-Digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes) }));
      const digest = sha256(body);
      const res = await putManifest(server.url, repo, digest, body, MT.OciManifest);
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v2/${repo}/manifests/${digest}`);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      await assertServed(repo, [digest], body, MT.OciManifest);
      // pushed by digest only: no tag
      const tags = (await (await fetch(`${server.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, []);
    });

    it('is idempotent: the same manifest pushed twice answers 201 with the same digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'a');
      const again = await pushManifest(server.url, repo, 'a', image.manifest, MT.OciManifest);
      assert.equal(again.digest, image.digest);
      await assertServed(repo, ['a'], image.manifest, MT.OciManifest);
    });

    it('moves a tag to the manifest pushed last; the old one stays reachable by digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const first = await pushImage(server.url, repo, 'latest');
      const second = await pushImage(server.url, repo, 'latest');
      await assertServed(repo, ['latest', second.digest], second.manifest, MT.OciManifest);
      await assertServed(repo, [first.digest], first.manifest, MT.OciManifest);
    });

    it('puts a one-part name under library/', async () => {
      const name = uniqueName('nginx');
      const image = await pushImage(server.url, name, 'latest');
      const res = await putManifest(server.url, name, 'stable', image.manifest, MT.OciManifest);
      await res.arrayBuffer();
      assert.equal(res.headers.get('location'), `/v2/library/${name}/manifests/${image.digest}`);
      await assertServed(`library/${name}`, ['latest', 'stable', image.digest], image.manifest, MT.OciManifest);
      await assertServed(name, ['latest'], image.manifest, MT.OciManifest);
    });

    it('keeps manifests per repository: 404 MANIFEST_UNKNOWN in another repository', async () => {
      const repo = `alice/${uniqueName()}`;
      const other = `bob/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'latest');
      await pushImage(server.url, other, 'other');
      await assertOciError(await fetch(manifestUrl(other, 'latest')), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await fetch(manifestUrl(other, image.digest)), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('several tags in one PUT', () => {
    it('PUT by digest with ?tag=a&tag=b: both tags resolve', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes) }));
      const digest = sha256(body);
      const res = await fetch(`${manifestUrl(repo, digest)}?tag=a&tag=b`, {
        method: 'PUT',
        headers: { 'content-type': MT.OciManifest },
        body: bin(body),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      await assertServed(repo, ['a', 'b', digest], body, MT.OciManifest);
      const tags = (await (await fetch(`${server.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['a', 'b']);
    });

    it('PUT by tag with ?tag=: the reference and the extra tags', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes) }));
      const res = await fetch(`${manifestUrl(repo, 'v1.2.3')}?tag=v1.2&tag=v1&tag=v1.2.3`, {
        method: 'PUT',
        headers: { 'content-type': MT.OciManifest },
        body: bin(body),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      const tags = (await (await fetch(`${server.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['v1', 'v1.2', 'v1.2.3']);
    });

    it('refuses an invalid extra tag with 400 and stores nothing', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes) }));
      const digest = sha256(body);
      const res = await fetch(`${manifestUrl(repo, digest)}?tag=good&tag=-bad`, {
        method: 'PUT',
        headers: { 'content-type': MT.OciManifest },
        body: bin(body),
      });
      await assertOciError(res, 400, 'TAG_INVALID');
      await assertOciError(await fetch(manifestUrl(repo, digest)), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await fetch(manifestUrl(repo, 'good')), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('references must exist', () => {
    it('refuses a manifest whose layer is missing: 400 MANIFEST_BLOB_UNKNOWN, nothing stored', async () => {
      const repo = `alice/${uniqueName()}`;
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const missing = randomBlob(20);
      const body = jsonBytes(
        ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes), layers: [descriptorOf(MT.OciLayer, missing)] }),
      );
      const res = await putManifest(server.url, repo, 'broken', body, MT.OciManifest);
      const envelope = await assertOciError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
      assert.deepEqual(envelope!.errors[0]!.detail, { digest: sha256(missing) });
      await assertOciError(await fetch(manifestUrl(repo, 'broken')), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await fetch(manifestUrl(repo, sha256(body))), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses a manifest whose config is missing', async () => {
      const repo = `alice/${uniqueName()}`;
      const layer = await pushBlob(server.url, repo, randomBlob(20));
      const body = jsonBytes(
        ociManifest({ config: descriptorOf(MT.OciConfig, jsonBytes({ missing: true })), layers: [descriptorOf(MT.OciLayer, layer.bytes)] }),
      );
      await assertOciError(await putManifest(server.url, repo, 'broken', body, MT.OciManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('refuses a manifest whose blobs exist only in another repository', async () => {
      const repo = `alice/${uniqueName()}`;
      const other = `bob/${uniqueName()}`;
      const config = await pushBlob(server.url, other, jsonBytes({ id: uniqueName() }));
      await pushBlob(server.url, repo, randomBlob(3));
      const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes) }));
      await assertOciError(await putManifest(server.url, repo, 'x', body, MT.OciManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    });

    it('refuses an index whose child manifest is missing: 400 MANIFEST_BLOB_UNKNOWN', async () => {
      const repo = `alice/${uniqueName()}`;
      const present = await pushImage(server.url, repo, 'present', { platform: { architecture: 'amd64', os: 'linux' } });
      const absent = { mediaType: MT.OciManifest, digest: sha256(randomBlob(50)), size: 50, platform: { architecture: 'arm64', os: 'linux' } };
      const body = jsonBytes(ociIndex([present.descriptor, absent]));
      const envelope = await assertOciError(await putManifest(server.url, repo, 'multi', body, MT.OciIndex), 400, 'MANIFEST_BLOB_UNKNOWN');
      assert.deepEqual(envelope!.errors[0]!.detail, { digest: absent.digest });
      await assertOciError(await fetch(manifestUrl(repo, 'multi')), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses a manifest list whose child is a blob, not a manifest', async () => {
      const repo = `alice/${uniqueName()}`;
      const blob = await pushBlob(server.url, repo, randomBlob(50));
      const body = jsonBytes(dockerManifestList([{ mediaType: MT.DockerManifest, digest: blob.digest, size: blob.size }]));
      await assertOciError(await putManifest(server.url, repo, 'list', body, MT.DockerManifestList), 400, 'MANIFEST_BLOB_UNKNOWN');
    });
  });

  describe('size limit', () => {
    async function paddedManifest(repo: string, total: number): Promise<Buffer> {
      const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
      const build = (pad: string) =>
        jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes), annotations: { pad } }));
      const body = build('x'.repeat(total - build('').length));
      assert.equal(body.length, total);
      return body;
    }

    it('accepts a manifest of exactly 4 MiB and serves it back', async () => {
      const repo = `alice/${uniqueName()}`;
      const body = await paddedManifest(repo, 4 * MiB);
      const pushed = await pushManifest(server.url, repo, 'big', body, MT.OciManifest);
      const res = await fetch(manifestUrl(repo, pushed.digest));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(4 * MiB));
      assert.equal(sha256(await bodyOf(res)), pushed.digest);
    });

    it('refuses 4 MiB + 1 with 413 (Content-Length declared)', async () => {
      const repo = `alice/${uniqueName()}`;
      const body = await paddedManifest(repo, 4 * MiB + 1);
      const res = await rawRequest(server.url, {
        method: 'PUT',
        path: `/v2/${repo}/manifests/toobig`,
        headers: { 'content-type': MT.OciManifest, 'content-length': body.length },
        body,
      });
      await assertOciError(res, 413, 'SIZE_INVALID');
      await assertOciError(await fetch(manifestUrl(repo, 'toobig')), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses 4 MiB + 1 with 413 (streamed without Content-Length)', async () => {
      const repo = `alice/${uniqueName()}`;
      const body = await paddedManifest(repo, 4 * MiB + 1);
      const res = await rawRequest(server.url, {
        method: 'PUT',
        path: `/v2/${repo}/manifests/toobig`,
        headers: { 'content-type': MT.OciManifest, 'transfer-encoding': 'chunked' },
        body,
      });
      await assertOciError(res, 413, 'SIZE_INVALID');
      await assertOciError(await fetch(manifestUrl(repo, 'toobig')), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('invalid manifests', () => {
    let repo: string;
    let image: PushedImage;
    before(async () => {
      repo = `alice/${uniqueName()}`;
      image = await pushImage(server.url, repo, 'base');
    });

    it('refuses a PUT by digest whose body has another digest: 400 DIGEST_INVALID', async () => {
      const other = sha256(randomBlob(10));
      await assertOciError(await putManifest(server.url, repo, other, image.manifest, MT.OciManifest), 400, 'DIGEST_INVALID');
      await assertOciError(await fetch(manifestUrl(repo, other)), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses Docker schema 1 by media type (body or header) with a clear message', async () => {
      const schema1 = { schemaVersion: 1, name: repo, tag: 'old', architecture: 'amd64', fsLayers: [], history: [] };
      const cases: Array<[Record<string, unknown>, string | undefined]> = [
        [{ ...schema1, mediaType: MT.DockerSchema1Signed }, MT.DockerSchema1Signed],
        [{ ...schema1, mediaType: MT.DockerSchema1 }, undefined],
        [schema1, MT.DockerSchema1Signed],
        [schema1, MT.DockerSchema1],
      ];
      for (const [body, type] of cases) {
        const res = await putManifest(server.url, repo, 'old', jsonBytes(body), type);
        await assertOciError(res, 400, 'MANIFEST_INVALID', { message: /schema 1 is not supported/i });
      }
    });

    it('refuses schemaVersion 1 without any media type with the same clear message', async () => {
      const body = jsonBytes({ schemaVersion: 1, name: repo, tag: 'old', fsLayers: [], history: [] });
      await assertOciError(await putManifest(server.url, repo, 'old', body, 'application/json'), 400, 'MANIFEST_INVALID', {
        message: /schema 1/i,
      });
      await assertOciError(await putManifest(server.url, repo, 'old', body), 400, 'MANIFEST_INVALID', { message: /schema 1/i });
    });

    it('refuses bad JSON and non-object JSON with 400 MANIFEST_INVALID', async () => {
      for (const text of ['{"schemaVersion": 2,', 'not json', '', '[]', '"manifest"', 'null']) {
        await assertOciError(await putManifest(server.url, repo, 'bad', Buffer.from(text), MT.OciManifest), 400, 'MANIFEST_INVALID');
      }
    });

    it('refuses an unknown media type with 400 MANIFEST_INVALID', async () => {
      const config = image.config;
      const manifest = { schemaVersion: 2, mediaType: 'application/vnd.example.thing+json', config: descriptorOf(MT.OciConfig, config.bytes), layers: [] };
      await assertOciError(await putManifest(server.url, repo, 'x', jsonBytes(manifest), 'application/vnd.example.thing+json'), 400, 'MANIFEST_INVALID', {
        message: /unsupported manifest media type/,
      });
      const bare = { schemaVersion: 2, config: descriptorOf(MT.OciConfig, config.bytes), layers: [] };
      await assertOciError(await putManifest(server.url, repo, 'x', jsonBytes(bare), 'text/plain'), 400, 'MANIFEST_INVALID');
    });

    it('refuses a body mediaType that contradicts the Content-Type', async () => {
      await assertOciError(await putManifest(server.url, repo, 'x', image.manifest, MT.DockerManifest), 400, 'MANIFEST_INVALID');
    });

    it('refuses structurally invalid manifests with 400 MANIFEST_INVALID', async () => {
      const config = descriptorOf(MT.OciConfig, image.config.bytes);
      const bad: Array<Record<string, unknown>> = [
        { schemaVersion: 3, mediaType: MT.OciManifest, config, layers: [] },
        { mediaType: MT.OciManifest, config, layers: [] },
        { schemaVersion: 2, mediaType: MT.OciManifest, layers: [] },
        { schemaVersion: 2, mediaType: MT.OciManifest, config: { ...config, digest: 'sha256:nope' }, layers: [] },
        { schemaVersion: 2, mediaType: MT.OciManifest, config: { ...config, size: -1 }, layers: [] },
        { schemaVersion: 2, mediaType: MT.OciManifest, config, layers: 'none' },
        { schemaVersion: 2, mediaType: MT.OciIndex },
        { schemaVersion: 2, mediaType: MT.OciManifest, config, layers: [], annotations: { a: 1 } },
      ];
      for (const manifest of bad) {
        await assertOciError(await putManifest(server.url, repo, 'x', jsonBytes(manifest), MT.OciManifest === manifest.mediaType ? MT.OciManifest : undefined), 400, 'MANIFEST_INVALID');
      }
      await assertOciError(await fetch(manifestUrl(repo, 'x')), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('subject', () => {
    it('answers a PUT with a subject with the OCI-Subject header', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'latest');
      const empty = await pushBlob(server.url, repo, Buffer.from('{}'));
      const body = jsonBytes(
        ociManifest({
          artifactType: 'application/vnd.example.signature.v1',
          config: descriptorOf(MT.OciEmpty, empty.bytes),
          subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
        }),
      );
      const res = await putManifest(server.url, repo, sha256(body), body, MT.OciManifest);
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), image.digest);
    });

    it('accepts a subject that is not (yet) in the repository', async () => {
      const repo = `alice/${uniqueName()}`;
      const empty = await pushBlob(server.url, repo, Buffer.from('{}'));
      const subject = { mediaType: MT.OciManifest, digest: sha256(randomBlob(40)), size: 40 };
      const body = jsonBytes(ociManifest({ artifactType: 'application/vnd.example', config: descriptorOf(MT.OciEmpty, empty.bytes), subject }));
      const res = await putManifest(server.url, repo, sha256(body), body, MT.OciManifest);
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), subject.digest);
    });

    it('sends OCI-Subject for an index with a subject too', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'latest');
      const child = await pushImage(server.url, repo, 'child');
      const body = jsonBytes(ociIndex([child.descriptor], { subject: image.descriptor, artifactType: 'application/vnd.example.bundle' }));
      const res = await putManifest(server.url, repo, 'bundle', body, MT.OciIndex);
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), image.digest);
    });
  });

  describe('Accept negotiation', () => {
    let repo: string;
    let amd64: PushedImage;
    let arm64: PushedImage;
    let ociImage: PushedImage;
    let index: { digest: string; bytes: Buffer };
    let list: { digest: string; bytes: Buffer };
    let armOnly: { digest: string; bytes: Buffer };
    before(async () => {
      repo = `alice/${uniqueName()}`;
      amd64 = await pushImage(server.url, repo, 'amd64', { docker: true, platform: { architecture: 'amd64', os: 'linux' } });
      arm64 = await pushImage(server.url, repo, 'arm64', { docker: true, platform: { architecture: 'arm64', os: 'linux' } });
      ociImage = await pushImage(server.url, repo, 'oci');
      // arm64 first: the fallback must pick linux/amd64, not the first entry
      index = await pushManifest(server.url, repo, 'index', ociIndex([arm64.descriptor, amd64.descriptor]));
      list = await pushManifest(server.url, repo, 'list', dockerManifestList([arm64.descriptor, amd64.descriptor]));
      armOnly = await pushManifest(server.url, repo, 'armonly', ociIndex([arm64.descriptor]));
    });

    async function get(reference: string, accept: string | string[] | undefined, method = 'GET') {
      return rawRequest(server.url, { method, path: `/v2/${repo}/manifests/${reference}`, headers: accept === undefined ? {} : { accept } });
    }

    it('serves the stored type to a client without Accept, or with */*', async () => {
      for (const accept of [undefined, '*/*', 'application/*', `${MT.DockerManifest}, */*;q=0.1`]) {
        const res = await get('index', accept);
        assert.equal(res.status, 200, String(accept));
        assert.equal(res.headers['content-type'], MT.OciIndex);
        assert.equal(res.headers['docker-content-digest'], index.digest);
        assert.deepEqual(res.body, index.bytes);
      }
    });

    it('serves the stored type when the client names it among others, with q-values', async () => {
      const res = await get('index', `${MT.DockerManifest};q=0.9, ${MT.OciIndex};q=0.5, ${MT.OciManifest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], MT.OciIndex);
      assert.deepEqual(res.body, index.bytes);
    });

    it('reads several Accept headers', async () => {
      const res = await get('index', [MT.DockerManifest, MT.OciIndex]);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], MT.OciIndex);
    });

    it('gives a Docker-schema2-only client the linux/amd64 child of an OCI index, by tag only', async () => {
      const res = await get('index', MT.DockerManifest);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], MT.DockerManifest);
      assert.equal(res.headers['docker-content-digest'], amd64.digest);
      assert.equal(res.headers['content-length'], String(amd64.size));
      assert.deepEqual(res.body, amd64.manifest);
      // a digest names exactly one manifest: never another one in its place
      const byDigest = await get(index.digest, MT.DockerManifest);
      assert.equal(byDigest.status, 404);
      assert.equal(byDigest.headers['docker-content-digest'], undefined);
    });

    it('gives a Docker-schema2-only client the linux/amd64 child of a manifest list', async () => {
      const res = await get('list', `${MT.DockerManifest};q=1`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], MT.DockerManifest);
      assert.equal(res.headers['docker-content-digest'], amd64.digest);
      assert.deepEqual(res.body, amd64.manifest);
    });

    it('negotiates HEAD like GET', async () => {
      const res = await get('index', MT.DockerManifest, 'HEAD');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], MT.DockerManifest);
      assert.equal(res.headers['docker-content-digest'], amd64.digest);
      assert.equal(res.headers['content-length'], String(amd64.size));
      assert.equal(res.body.length, 0);

      const refused = await get('oci', MT.DockerManifest, 'HEAD');
      await assertOciError(refused, 404, 'MANIFEST_UNKNOWN', { head: true });
    });

    it('answers 404 MANIFEST_UNKNOWN when the client accepts neither the stored type nor a fallback', async () => {
      // an OCI image to a Docker-only client
      await assertOciError(await get('oci', MT.DockerManifest), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await get(ociImage.digest, MT.DockerManifest), 404, 'MANIFEST_UNKNOWN');
      // an index without linux/amd64
      await assertOciError(await get('armonly', MT.DockerManifest), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await get(armOnly.digest, MT.DockerManifest), 404, 'MANIFEST_UNKNOWN');
      // the amd64 child is a Docker manifest, which an OCI-manifest-only client does not read
      await assertOciError(await get('index', MT.OciManifest), 404, 'MANIFEST_UNKNOWN');
      // a Docker manifest to an OCI-only client
      await assertOciError(await get('amd64', `${MT.OciManifest}, ${MT.OciIndex}`), 404, 'MANIFEST_UNKNOWN');
    });

    it('serves the Docker manifest to a client naming Docker types', async () => {
      const res = await get('amd64', `${MT.DockerManifest}, ${MT.DockerManifestList}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], MT.DockerManifest);
      assert.deepEqual(res.body, amd64.manifest);
    });
  });

  describe('DELETE', () => {
    it('by tag removes only the tag', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'one');
      await pushManifest(server.url, repo, 'two', image.manifest, MT.OciManifest);
      const res = await fetch(manifestUrl(repo, 'one'), { method: 'DELETE' });
      assert.equal(res.status, 202);
      assert.equal(await res.text(), '');
      await assertOciError(await fetch(manifestUrl(repo, 'one')), 404, 'MANIFEST_UNKNOWN');
      await assertServed(repo, ['two', image.digest], image.manifest, MT.OciManifest);
      const tags = (await (await fetch(`${server.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['two']);
    });

    it('by digest removes the manifest and all its tags', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'one');
      await pushManifest(server.url, repo, 'two', image.manifest, MT.OciManifest);
      const keep = await pushImage(server.url, repo, 'keep');
      const res = await fetch(manifestUrl(repo, image.digest), { method: 'DELETE' });
      assert.equal(res.status, 202);
      await res.arrayBuffer();
      for (const reference of ['one', 'two', image.digest]) {
        await assertOciError(await fetch(manifestUrl(repo, reference)), 404, 'MANIFEST_UNKNOWN');
        assert.equal((await fetch(manifestUrl(repo, reference), { method: 'HEAD' })).status, 404);
      }
      const tags = (await (await fetch(`${server.url}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['keep']);
      await assertServed(repo, ['keep'], keep.manifest, MT.OciManifest);
      // its blobs stay linked
      assert.equal((await fetch(`${server.url}/v2/${repo}/blobs/${image.config.digest}`, { method: 'HEAD' })).status, 200);
    });

    it('a manifest can be pushed again after its deletion', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'one');
      await (await fetch(manifestUrl(repo, image.digest), { method: 'DELETE' })).arrayBuffer();
      await pushManifest(server.url, repo, 'again', image.manifest, MT.OciManifest);
      await assertServed(repo, ['again', image.digest], image.manifest, MT.OciManifest);
    });

    it('answers unknown tags and digests with 404 MANIFEST_UNKNOWN', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'one');
      await assertOciError(await fetch(manifestUrl(repo, 'nope'), { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      await assertOciError(await fetch(manifestUrl(repo, sha256(randomBlob(5))), { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      await (await fetch(manifestUrl(repo, image.digest), { method: 'DELETE' })).arrayBuffer();
      await assertOciError(await fetch(manifestUrl(repo, image.digest), { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
    });
  });

  describe('unknown and invalid references', () => {
    it('answers unknown tags and digests with 404 MANIFEST_UNKNOWN (GET and HEAD)', async () => {
      const repo = `alice/${uniqueName()}`;
      await pushImage(server.url, repo, 'exists');
      for (const reference of ['missing', sha256(randomBlob(5))]) {
        await assertOciError(await fetch(manifestUrl(repo, reference)), 404, 'MANIFEST_UNKNOWN');
        await assertOciError(await fetch(manifestUrl(repo, reference), { method: 'HEAD' }), 404, 'MANIFEST_UNKNOWN', { head: true });
      }
      // and in a repository that does not exist
      await assertOciError(await fetch(manifestUrl(`nobody/${uniqueName()}`, 'latest')), 404, 'MANIFEST_UNKNOWN');
    });

    const invalidTags = ['-leading-dash', '.leading-dot', 'a'.repeat(129), 'sp%20ace', 'bad!', 'a+b'];

    it('refuses a PUT under an invalid tag with 400 TAG_INVALID', async () => {
      const repo = `alice/${uniqueName()}`;
      const image = await pushImage(server.url, repo, 'ok');
      for (const tag of invalidTags) {
        await assertOciError(await putManifest(server.url, repo, tag, image.manifest, MT.OciManifest), 400, 'TAG_INVALID');
      }
      // the longest valid tag is fine
      await pushManifest(server.url, repo, 'a'.repeat(128), image.manifest, MT.OciManifest);
    });

    it('answers GET, HEAD and DELETE of a tag that could never exist with 404 MANIFEST_UNKNOWN (conformance)', async () => {
      const repo = `alice/${uniqueName()}`;
      await pushImage(server.url, repo, 'ok');
      for (const tag of invalidTags) {
        await assertOciError(await fetch(manifestUrl(repo, tag)), 404, 'MANIFEST_UNKNOWN');
        await assertOciError(await fetch(manifestUrl(repo, tag), { method: 'HEAD' }), 404, 'MANIFEST_UNKNOWN', { head: true });
        await assertOciError(await fetch(manifestUrl(repo, tag), { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      }
    });

    it('refuses malformed digests as references with 400 DIGEST_INVALID', async () => {
      const repo = `alice/${uniqueName()}`;
      for (const reference of ['sha256:abc', 'sha256:' + 'Z'.repeat(64), 'md5:' + 'a'.repeat(32)]) {
        await assertOciError(await fetch(manifestUrl(repo, reference)), 400, 'DIGEST_INVALID');
        await assertOciError(await fetch(manifestUrl(repo, reference), { method: 'DELETE' }), 400, 'DIGEST_INVALID');
      }
    });
  });
});
