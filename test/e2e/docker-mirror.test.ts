/**
 * Pier as the Docker daemon's registry mirror: a daemon of the test's own, started with
 * `--registry-mirror` pointing at Pier, whose `mirror.namespace` proxies an upstream (the
 * reference registry, through a proxy that counts requests and can stop like a crashed upstream).
 * `docker pull NAME` (docker.io/library/NAME) goes through Pier; a pull whose upstream stops in the
 * middle of a layer fails cleanly and the next one succeeds; with the upstream stopped, what Pier
 * cached still pulls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CountingProxy } from '../support/counting-proxy.js';
import { DockerClient } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { uniqueName } from '../support/oci.js';
import { findDockerd, startOwnDockerd, type OwnDockerd } from '../support/own-dockerd.js';
import { findReferenceRegistry, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';
import { pushImageTo } from '../support/registry-push.js';
import { startTestServer, type TestServer } from '../support/server.js';

const dockerd = await findDockerd();
const reference = await findReferenceRegistry();
const missing = !dockerd.ok ? dockerd : reference;

describe('docker pull through Pier as registry mirror', { ...skipUnless(missing), timeout: 600_000 }, () => {
  let upstream: ReferenceRegistry;
  let counting: CountingProxy;
  let server: TestServer;
  let daemon: OwnDockerd;
  let docker: DockerClient;
  const name = uniqueName('pier-mirror');

  before(async () => {
    upstream = await startReferenceRegistry(requireTool(reference));
    counting = await CountingProxy.start(upstream.url);
    server = await startTestServer({ 'auth.mode': 'token', 'mirror.namespace': 'hub' });
    await server.hub.proxies.add('hub', { url: counting.url, ttlMs: 1_000 });
    daemon = await startOwnDockerd(requireTool(dockerd), ['--registry-mirror', server.url, '--max-download-attempts', '1']);
    docker = await DockerClient.create(daemon.host);
  });

  after(async () => {
    await docker?.cleanup();
    await daemon?.stop();
    await server?.stop();
    await counting?.close();
    await upstream?.stop();
  });

  it('pulls an image that Pier fetches from the upstream once, and caches', async () => {
    const image = await pushImageTo(upstream.url, `library/${name}`, 'v1', { layers: 2, layerBytes: 500_000 });
    counting.reset();
    const pulled = await docker.run(['pull', `${name}:v1`]);
    assert.equal(pulled.code, 0, `${pulled.stdout}\n${pulled.stderr}\n${daemon.log().slice(-3000)}`);
    const inspected = await docker.inspectImage(`${name}:v1`);
    assert.equal(inspected.Id, image.config.digest, 'the image docker holds is the upstream one');
    // through Pier: the mirror's copy is in the mirror namespace, and each blob came from the upstream once
    assert.ok(await server.registry.listings.tags(`hub/library/${name}` as never, {}).then((l) => l.items.includes('v1')));
    for (const blob of [image.config, ...image.layers]) {
      assert.equal(counting.count('GET', new RegExp(`/blobs/${blob.digest}$`)), 1);
      assert.equal(await server.store.stat(blob.digest as never), blob.size);
    }
  });

  it('a pull whose upstream stops half-way through a layer fails cleanly; after it returns, the pull succeeds', async () => {
    const image = await pushImageTo(upstream.url, `library/${name}`, 'v2', { layerBytes: 6_000_000 });
    const layer = image.layers[0]!;
    const stopped = counting.stopDuring(new RegExp(`/blobs/${layer.digest}$`), 2_000_000);
    const failed = await docker.run(['pull', `${name}:v2`]);
    await stopped;
    assert.notEqual(failed.code, 0, `the pull must fail: ${failed.stdout}`);
    // the layer download started through Pier and broke there (docker then tries docker.io itself,
    // which this machine cannot reach: its message names that last endpoint)
    assert.match(failed.stdout, /Pulling fs layer/);
    assert.doesNotMatch(failed.stderr, /panic|goroutine/);
    assert.equal(await server.store.stat(layer.digest as never), undefined, 'no partial layer stored');
    const images = await docker.run(['image', 'inspect', `${name}:v2`]);
    assert.notEqual(images.code, 0, 'docker has no half image');

    await counting.resume();
    const pulled = await docker.run(['pull', `${name}:v2`]);
    assert.equal(pulled.code, 0, `${pulled.stdout}\n${pulled.stderr}`);
    assert.equal((await docker.inspectImage(`${name}:v2`)).Id, image.config.digest);
    assert.equal(await server.store.stat(layer.digest as never), layer.size);
  });

  it('with the upstream stopped, what Pier cached still pulls (its tag re-check fails, the copy is served)', async () => {
    await docker.ok(['rmi', '--force', `${name}:v1`]);
    await counting.stop();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the proxy's 1 s TTL: Pier asks the upstream, which is down
      const pulled = await docker.run(['pull', `${name}:v1`]);
      assert.equal(pulled.code, 0, `${pulled.stdout}\n${pulled.stderr}\n${daemon.log().slice(-3000)}`);
      assert.ok((await docker.inspectImage(`${name}:v1`)).Id.startsWith('sha256:'));
    } finally {
      await counting.resume();
    }
  });

  it('a repository that exists in Pier wins over the mirror', async () => {
    const local = `library/${uniqueName('local')}`;
    const mine = await pushImageTo(upstream.url, local, 'v1');
    // an administrator pushes the same name into Pier itself: the mirror is not asked for it
    const admin = 'captain';
    await server.hub.accounts.create({ name: admin, password: 'correct horse battery', admin: true });
    const token = await fetch(`${server.url}/token?service=pier&scope=repository:${local}:pull,push`, {
      headers: { authorization: `Basic ${Buffer.from(`${admin}:correct horse battery`).toString('base64')}` },
    }).then(async (res) => ((await res.json()) as { token: string }).token);
    const ours = await pushImageTo(server.url, local, 'v1', { token });
    counting.reset();
    const pulled = await docker.run(['pull', `${local.slice('library/'.length)}:v1`]);
    assert.equal(pulled.code, 0, `${pulled.stdout}\n${pulled.stderr}`);
    assert.equal((await docker.inspectImage(`${local.slice('library/'.length)}:v1`)).Id, ours.config.digest);
    assert.notEqual(ours.config.digest, mine.config.digest);
    assert.equal(counting.count('GET', new RegExp(local)), 0, 'the upstream was not asked');
  });
});
