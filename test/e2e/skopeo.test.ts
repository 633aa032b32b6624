// End to end with the real skopeo against an in-process Pier: copies to and from OCI layouts,
// multi-arch copies (--all), list-tags and delete. Images are pushed over HTTP first, so no
// Docker daemon is needed. Without skopeo the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, skipUnless } from '../support/exec.js';
import {
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  fetchManifest,
  makeImage,
  makeIndex,
  pushImage,
  type TestImage,
} from '../support/images.js';
import { pushManifest, sha256 } from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { SkopeoClient, findSkopeo } from '../support/skopeo.js';

const found = await findSkopeo();

describe('skopeo against Pier', { ...skipUnless(found), timeout: 10 * 60_000 }, () => {
  let server: TestServer;
  let skopeo: SkopeoClient;
  /** 127.0.0.1:PORT */
  let registry: string;
  let workDir: string;

  before(async () => {
    skopeo = await SkopeoClient.create(requireTool(found));
    server = await startTestServer();
    registry = new URL(server.url).host;
    workDir = await mkdtemp(join(tmpdir(), 'pier-skopeo-e2e-'));
  });

  after(async () => {
    await server?.stop();
    await skopeo?.cleanup();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const docker = (ref: string) => `docker://${registry}/${ref}`;
  const insecure = ['--src-tls-verify=false', '--dest-tls-verify=false'];

  /** `skopeo inspect --raw` of a reference: the manifest bytes as stored */
  async function raw(ref: string): Promise<Buffer> {
    const args = ref.startsWith('docker://') ? ['inspect', '--tls-verify=false', '--raw', ref] : ['inspect', '--raw', ref];
    const { stdout } = await skopeo.ok(args, { timeoutMs: 60_000 });
    return Buffer.from(stdout);
  }

  async function assertBlobsIn(repository: string, image: TestImage): Promise<void> {
    for (const blob of [image.config, ...image.layers]) {
      const res = await fetch(`${server.url}/v2/${repository}/blobs/${blob.digest}`);
      assert.equal(res.status, 200, `${repository} has blob ${blob.digest}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
    }
  }

  it('copies an image to an OCI layout and back, manifest bytes unchanged', async () => {
    const image = makeImage({ layers: 3 });
    await pushImage(server.url, 'skopeo/app', 'v1', { image });
    const layout = join(workDir, 'layout-app');

    await skopeo.ok(['copy', ...insecure, docker('skopeo/app:v1'), `oci:${layout}:v1`]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
    };
    const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'v1');
    assert.equal(entry?.digest, image.digest, 'the layout holds the manifest Pier served');
    assert.deepEqual(await raw(`oci:${layout}:v1`), image.manifest);
    for (const blob of [image.config, ...image.layers]) {
      const stored = await readFile(join(layout, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)));
      assert.equal(sha256(stored), blob.digest, `layout blob ${blob.digest}`);
    }

    await skopeo.ok(['copy', ...insecure, `oci:${layout}:v1`, docker('skopeo/roundtrip:v1')]);
    const back = await raw(docker('skopeo/roundtrip:v1'));
    assert.deepEqual(back, image.manifest, 'same manifest bytes after the round trip');
    assert.equal(sha256(back), image.digest);
    const served = await fetchManifest(server.url, 'skopeo/roundtrip', 'v1');
    assert.equal(served.status, 200);
    assert.equal(served.mediaType, OCI_MANIFEST);
    assert.equal(served.digestHeader, image.digest);
    await assertBlobsIn('skopeo/roundtrip', image);

    const inspected = JSON.parse((await skopeo.ok(['inspect', '--tls-verify=false', docker('skopeo/roundtrip:v1')])).stdout) as {
      Digest: string;
      Architecture: string;
      Os: string;
      Layers: string[];
    };
    assert.equal(inspected.Digest, image.digest);
    assert.equal(inspected.Architecture, 'amd64');
    assert.equal(inspected.Os, 'linux');
    assert.deepEqual(inspected.Layers, image.layers.map((l) => l.digest));
  });

  it('converts to a Docker v2 schema 2 manifest on the way in (--format v2s2)', async () => {
    const image = makeImage({ layers: 2 });
    await pushImage(server.url, 'skopeo/oci-src', 'v1', { image });
    await skopeo.ok(['copy', ...insecure, '--format', 'v2s2', docker('skopeo/oci-src:v1'), docker('skopeo/v2s2:v1')]);
    const served = await fetchManifest(server.url, 'skopeo/v2s2', 'v1');
    assert.equal(served.status, 200);
    assert.equal(served.mediaType, DOCKER_MANIFEST);
    assert.deepEqual(served.body, await raw(docker('skopeo/v2s2:v1')));
    const manifest = JSON.parse(served.body.toString()) as { mediaType: string; layers: Array<{ digest: string }> };
    assert.equal(manifest.mediaType, DOCKER_MANIFEST);
    assert.deepEqual(manifest.layers.map((l) => l.digest), image.layers.map((l) => l.digest), 'same layer blobs');
  });

  it('copies a multi-arch index with --all, to a repository and through an OCI layout', async () => {
    const amd64 = makeImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: 2 });
    const arm64 = makeImage({ platform: { architecture: 'arm64', os: 'linux' }, layers: 1 });
    await pushImage(server.url, 'skopeo/multi', amd64.digest, { image: amd64 });
    await pushImage(server.url, 'skopeo/multi', arm64.digest, { image: arm64 });
    const index = makeIndex([
      { image: amd64, architecture: 'amd64' },
      { image: arm64, architecture: 'arm64' },
    ]);
    await pushManifest(server.url, 'skopeo/multi', 'latest', index.body, OCI_INDEX);

    // registry to registry
    await skopeo.ok(['copy', '--all', ...insecure, docker('skopeo/multi:latest'), docker('skopeo/multi-copy:latest')]);
    const copied = await fetchManifest(server.url, 'skopeo/multi-copy', 'latest');
    assert.equal(copied.status, 200);
    assert.equal(copied.mediaType, OCI_INDEX);
    assert.equal(copied.digest, index.digest, 'the index is copied byte for byte');
    assert.deepEqual(await raw(docker('skopeo/multi-copy:latest')), index.body);
    for (const child of [amd64, arm64]) {
      const manifest = await fetchManifest(server.url, 'skopeo/multi-copy', child.digest);
      assert.equal(manifest.status, 200, `child ${child.digest} copied`);
      assert.deepEqual(manifest.body, child.manifest);
      await assertBlobsIn('skopeo/multi-copy', child);
    }

    // through an OCI layout and back
    const layout = join(workDir, 'layout-multi');
    await skopeo.ok(['copy', '--all', ...insecure, docker('skopeo/multi:latest'), `oci:${layout}:latest`]);
    assert.deepEqual(await raw(`oci:${layout}:latest`), index.body);
    await skopeo.ok(['copy', '--all', ...insecure, `oci:${layout}:latest`, docker('skopeo/multi-back:v2')]);
    const back = await fetchManifest(server.url, 'skopeo/multi-back', 'v2');
    assert.equal(back.digest, index.digest);
    for (const child of [amd64, arm64]) await assertBlobsIn('skopeo/multi-back', child);

    // without --all, skopeo picks the child for the platform asked for
    const single = join(workDir, 'layout-single');
    await skopeo.ok(['--override-arch', 'arm64', '--override-os', 'linux', 'copy', ...insecure, docker('skopeo/multi:latest'), `oci:${single}:arm`]);
    assert.deepEqual(await raw(`oci:${single}:arm`), arm64.manifest, 'the arm64 child was chosen');
  });

  it('lists tags with skopeo list-tags', async () => {
    const image = makeImage({ layers: 1 });
    const tags = ['v1', 'v1.1', 'latest', 'stable_2024'];
    for (const tag of tags) await pushImage(server.url, 'skopeo/tags', tag, { image });
    const { stdout } = await skopeo.ok(['list-tags', '--tls-verify=false', docker('skopeo/tags')]);
    const listed = JSON.parse(stdout) as { Repository: string; Tags: string[] };
    assert.equal(listed.Repository, `${registry}/skopeo/tags`);
    assert.deepEqual([...listed.Tags].sort(), [...tags].sort());

    const missing = await skopeo.run(['list-tags', '--tls-verify=false', docker('skopeo/no-such-repo')]);
    assert.notEqual(missing.code, 0, 'list-tags of an unknown repository fails');
  });

  it('deletes an image with skopeo delete', async () => {
    const keep = makeImage({ layers: 1 });
    const gone = makeImage({ layers: 1 });
    await pushImage(server.url, 'skopeo/del', 'keep', { image: keep });
    await pushImage(server.url, 'skopeo/del', 'gone', { image: gone });

    await skopeo.ok(['delete', '--tls-verify=false', docker('skopeo/del:gone')]);
    // skopeo resolves the tag and deletes the manifest by digest: the tag goes with it
    assert.equal((await fetchManifest(server.url, 'skopeo/del', 'gone')).status, 404);
    assert.equal((await fetchManifest(server.url, 'skopeo/del', gone.digest)).status, 404);
    assert.equal((await fetchManifest(server.url, 'skopeo/del', 'keep')).status, 200);
    const { stdout } = await skopeo.ok(['list-tags', '--tls-verify=false', docker('skopeo/del')]);
    assert.deepEqual((JSON.parse(stdout) as { Tags: string[] }).Tags, ['keep']);
    const inspect = await skopeo.run(['inspect', '--tls-verify=false', '--raw', docker('skopeo/del:gone')]);
    assert.notEqual(inspect.code, 0, 'the deleted tag no longer resolves');

    const again = await skopeo.run(['delete', '--tls-verify=false', docker('skopeo/del:gone')]);
    assert.notEqual(again.code, 0, 'deleting a missing tag fails');
  });
});
