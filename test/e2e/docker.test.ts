// End to end with the real docker CLI and a real Docker daemon against an in-process Pier.
// The daemon: PIER_TEST_DOCKER_HOST, or the one scripts/start-dockerd.sh runs (started here when
// root and dockerd is installed). Without one the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon, type BuiltImage } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { DOCKER_LIST, DOCKER_MANIFEST, fetchManifest } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

/** What `docker push` printed: the final status of each layer, and the digest line. */
interface PushOutput {
  layers: Map<string, string>;
  tag: string;
  digest: string;
  size: number;
  output: string;
}

function parsePush(stdout: string): PushOutput {
  const layers = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^([0-9a-f]{12}): (.+)$/.exec(line.trim());
    if (!match) continue;
    const [, id, status] = match as unknown as [string, string, string];
    if (/^(Preparing|Waiting|Pushing|Retrying)/.test(status)) {
      if (!layers.has(id)) layers.set(id, status);
      continue;
    }
    layers.set(id, status);
  }
  const digestLine = /^(\S+): digest: (sha256:[0-9a-f]{64}) size: (\d+)$/m.exec(stdout);
  assert.ok(digestLine, `no digest line in docker push output:\n${stdout}`);
  return { layers, tag: digestLine[1]!, digest: digestLine[2]!, size: Number(digestLine[3]), output: stdout };
}

describe('docker CLI against Pier', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  /** 127.0.0.1:PORT */
  let registry: string;
  const refs = new Set<string>();

  before(async () => {
    const host = requireTool(daemon);
    server = await startTestServer();
    registry = new URL(server.url).host;
    docker = await DockerClient.create(host);
  });

  after(async () => {
    // the images built here go by ID (buildImage keeps them), so every tag and pulled digest goes too
    await docker?.cleanup(refs);
    await server?.stop();
  });

  /** Builds a FROM scratch image with one COPY layer per file of random data, tagged `tag`. */
  async function build(tag: string, layers: number, bytesPerLayer = 200_000): Promise<BuiltImage> {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < layers; i++) files[`part${i}/data.bin`] = randomBytes(bytesPerLayer);
    const image = await docker.buildImage(files, tag);
    assert.equal(image.layers.length, layers, 'one layer per COPY');
    return image;
  }

  async function push(ref: string): Promise<PushOutput> {
    refs.add(ref);
    const { stdout } = await docker.ok(['push', ref], { timeoutMs: 180_000 });
    return parsePush(stdout);
  }

  it('pushes a multi-layer image, and pulls it back identical', { timeout: 10 * 60_000 }, async () => {
    const ref = `${registry}/alice/my_apache:version1`;
    const built = await build(ref, 3);

    const pushed = await push(ref);
    assert.equal(pushed.tag, 'version1');
    assert.equal(pushed.layers.size, 3, `three layers in the push output:\n${pushed.output}`);
    for (const [layer, status] of pushed.layers) assert.equal(status, 'Pushed', `layer ${layer} was uploaded:\n${pushed.output}`);

    // the manifest Pier serves is the one docker pushed, byte for byte
    const manifest = await fetchManifest(server.url, 'alice/my_apache', 'version1');
    assert.equal(manifest.status, 200);
    assert.equal(manifest.digest, pushed.digest, 'sha256 of the served manifest = the digest docker printed');
    assert.equal(manifest.digestHeader, pushed.digest);
    assert.equal(manifest.body.length, pushed.size);
    assert.equal(manifest.mediaType, DOCKER_MANIFEST);
    const parsed = JSON.parse(manifest.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string; size: number }> };
    assert.equal(parsed.config.digest, built.id, 'the config blob is the image ID');
    assert.equal(parsed.layers.length, 3);
    for (const layer of parsed.layers) {
      const head = await fetch(`${server.url}/v2/alice/my_apache/blobs/${layer.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200, `layer ${layer.digest} is stored`);
      assert.equal(head.headers.get('content-length'), String(layer.size));
    }
    const byDigest = await fetchManifest(server.url, 'alice/my_apache', pushed.digest);
    assert.equal(byDigest.status, 200);
    assert.equal(byDigest.digest, pushed.digest);

    const before = await docker.inspectImage(ref);
    assert.ok(before.RepoDigests.includes(`${registry}/alice/my_apache@${pushed.digest}`), `RepoDigests: ${before.RepoDigests}`);

    // remove it locally: the pull must really fetch it from Pier
    const removed = await docker.ok(['rmi', ref]);
    assert.match(removed.stdout, /Deleted: /, `the image itself was deleted, not just untagged:\n${removed.stdout}`);
    assert.notEqual((await docker.run(['image', 'inspect', ref])).code, 0, 'the image is gone locally');

    const pulled = await docker.ok(['pull', ref], { timeoutMs: 180_000 });
    assert.match(pulled.stdout, new RegExp(`Digest: ${pushed.digest}`));
    assert.match(pulled.stdout, /Pull complete/);
    assert.match(pulled.stdout, /Downloaded newer image/);

    const after = await docker.inspectImage(ref);
    assert.equal(after.Id, built.id, 'the same image ID after the round trip');
    assert.deepEqual(after.RootFS.Layers, built.layers, 'the same layers (diff IDs)');
    assert.ok(after.RepoDigests.includes(`${registry}/alice/my_apache@${pushed.digest}`), `RepoDigests: ${after.RepoDigests}`);
  });

  it('pushes a second tag of an image without uploading any layer again', { timeout: 10 * 60_000 }, async () => {
    const first = `${registry}/alice/retag:version1`;
    const second = `${registry}/alice/retag:version2`;
    await build(first, 3);
    const pushed = await push(first);
    assert.equal(pushed.layers.size, 3);

    // count upload sessions and monolithic uploads the second push starts (there must be none)
    const uploads = server.registry.uploads;
    const calls: string[] = [];
    const start = uploads.start.bind(uploads);
    const monolithic = uploads.monolithic.bind(uploads);
    uploads.start = (...args) => (calls.push('start'), start(...args));
    uploads.monolithic = (...args) => (calls.push('monolithic'), monolithic(...args));
    try {
      await docker.ok(['tag', first, second]);
      const again = await push(second);
      assert.equal(again.tag, 'version2');
      assert.equal(again.digest, pushed.digest, 'same manifest, same digest');
      assert.equal(again.layers.size, 3, again.output);
      for (const [layer, status] of again.layers) {
        assert.equal(status, 'Layer already exists', `layer ${layer} was not uploaded again:\n${again.output}`);
      }
      assert.doesNotMatch(again.output, /Pushed/);
      assert.deepEqual(calls, [], 'no blob upload was started on the second push');
    } finally {
      uploads.start = start;
      uploads.monolithic = monolithic;
    }

    const tags = (await (await fetch(`${server.url}/v2/alice/retag/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual([...tags.tags].sort(), ['version1', 'version2']);
    const v2 = await fetchManifest(server.url, 'alice/retag', 'version2');
    assert.equal(v2.digest, pushed.digest);
  });

  it('puts a one-part name under library/', { timeout: 10 * 60_000 }, async () => {
    const source = `${registry}/alice/nginx-base:latest`;
    const ref = `${registry}/nginx-like:latest`;
    await build(source, 2);
    const base = await push(source);
    await docker.ok(['tag', source, ref]);

    const pushed = await push(ref);
    assert.equal(pushed.digest, base.digest);
    for (const [layer, status] of pushed.layers) {
      // the daemon mounts the layers from alice/nginx-base (or finds them there): never uploads them
      assert.match(status, /^(Mounted from alice\/nginx-base|Layer already exists)$/, `layer ${layer}:\n${pushed.output}`);
    }

    const catalog = (await (await fetch(`${server.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.ok(catalog.repositories.includes('library/nginx-like'), `catalog: ${catalog.repositories}`);
    assert.ok(!catalog.repositories.includes('nginx-like'), `catalog: ${catalog.repositories}`);
    const manifest = await fetchManifest(server.url, 'library/nginx-like', 'latest');
    assert.equal(manifest.status, 200);
    assert.equal(manifest.digest, pushed.digest);

    // and pulls by either name give that image
    const full = `${registry}/library/nginx-like:latest`;
    refs.add(full);
    const pulled = await docker.ok(['pull', full]);
    assert.match(pulled.stdout, new RegExp(`Digest: ${pushed.digest}`));
    await docker.ok(['rmi', ref]);
    const short = await docker.ok(['pull', ref]);
    assert.match(short.stdout, new RegExp(`Digest: ${pushed.digest}`));
  });

  it('pushes a multi-arch list with docker manifest, and pulls the native image from it', { timeout: 10 * 60_000 }, async () => {
    const native = (await docker.ok(['version', '--format', '{{.Server.Arch}}'])).stdout.trim();
    const other = native === 'arm64' ? 'amd64' : 'arm64';
    const nativeRef = `${registry}/alice/multi:${native}`;
    const otherRef = `${registry}/alice/multi:${other}`;
    const listRef = `${registry}/alice/multi:list`;
    const nativeImage = await build(nativeRef, 2, 50_000);
    await build(otherRef, 1, 50_000);
    const nativePush = await push(nativeRef);
    const otherPush = await push(otherRef);

    await docker.ok(['manifest', 'create', '--insecure', listRef, nativeRef, otherRef]);
    await docker.ok(['manifest', 'annotate', '--arch', other, listRef, otherRef]);
    const { stdout } = await docker.ok(['manifest', 'push', '--insecure', listRef]);
    const listDigest = /sha256:[0-9a-f]{64}/.exec(stdout)?.[0];
    assert.ok(listDigest, `docker manifest push printed a digest:\n${stdout}`);

    const list = await fetchManifest(server.url, 'alice/multi', 'list');
    assert.equal(list.status, 200);
    assert.equal(list.mediaType, DOCKER_LIST);
    assert.equal(list.digest, listDigest);
    assert.equal(list.digestHeader, listDigest);
    const parsed = JSON.parse(list.body.toString()) as {
      mediaType: string;
      manifests: Array<{ mediaType: string; digest: string; size: number; platform: { architecture: string; os: string } }>;
    };
    assert.equal(parsed.mediaType, DOCKER_LIST);
    assert.equal(parsed.manifests.length, 2);
    const byArch = new Map(parsed.manifests.map((m) => [m.platform.architecture, m]));
    assert.equal(byArch.get(native)?.digest, nativePush.digest);
    assert.equal(byArch.get(other)?.digest, otherPush.digest);
    for (const child of parsed.manifests) {
      assert.equal(child.platform.os, 'linux');
      const fetched = await fetchManifest(server.url, 'alice/multi', child.digest);
      assert.equal(fetched.status, 200, `child ${child.digest} is stored`);
      assert.equal(fetched.body.length, child.size);
    }

    // the daemon resolves the list to the child for its own platform
    await docker.ok(['rmi', nativeRef]);
    refs.add(listRef);
    const pulled = await docker.ok(['pull', listRef], { timeoutMs: 180_000 });
    assert.match(pulled.stdout, new RegExp(`Digest: ${listDigest}`));
    const image = await docker.inspectImage(listRef);
    assert.equal(image.Id, nativeImage.id, `the ${native} image was pulled through the list`);
  });
});
