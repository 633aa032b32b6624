// A replica killed (SIGKILL) in the middle of a push: the other replica serves everything that was
// completed, nothing half-written becomes visible, and the client's retry succeeds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearer, tokenFor } from '../support/auth.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { bin, bodyOf, descriptorOf, jsonBytes, MT, ociManifest, sha256, pushBlob } from '../support/oci.js';
import { startReplica, type Replica } from '../support/replicas.js';
import { scaleOutBackends, skipUnlessScaleOut, type ScaleOut } from '../support/scale-out.js';

const daemon = await findDockerDaemon();
const skip = (await skipUnlessScaleOut()) ?? {};
const alice = { username: 'alice', secret: 'alice-password-1' };

/** Resolves once `replica` has printed a line matching `pattern` (its request log). */
async function waitForOutput(replica: Replica, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(replica.output())) {
    if (Date.now() > deadline) throw new Error(`${replica.name} never logged ${pattern}:\n${replica.output().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a replica killed in the middle of a push', { ...skip, timeout: 10 * 60_000 }, () => {
  let backends: ScaleOut;
  let a: Replica;
  let b: Replica;
  let token: string;
  let completed: PushedImage;

  before(async () => {
    backends = await scaleOutBackends();
    const env = (name: string) => ({ ...backends.env, PIER_DATA: join(backends.dir, `data-${name}`), PIER_LOG_LEVEL: 'debug' });
    [a, b] = await Promise.all([startReplica('a', env('a')), startReplica('b', env('b'))]);
    const res = await fetch(`${b.url}/api/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: alice.username, password: alice.secret }),
    });
    assert.equal(res.status, 201);
    token = await tokenFor(b.url, alice, ['repository:alice/app:pull,push']);
    completed = await pushImage(a.url, 'alice/app', 'done', { token });
  });

  after(async () => {
    await Promise.all([a?.kill(), b?.stop()]);
    await backends?.cleanup();
  });

  it('loses nothing that was completed, shows nothing half-written, and a retry on the survivor succeeds', async () => {
    const layer = randomBytes(24 * 1024 * 1024);
    const digest = sha256(layer);
    const started = await fetch(`${a.url}/v2/alice/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
    assert.equal(started.status, 202);
    const location = started.headers.get('location')!;

    // a PATCH whose body stops halfway; a is killed while it waits for the rest
    const patch = request(new URL(location, a.url), {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
    });
    const outcome = new Promise<string>((resolve) => {
      patch.on('response', (res) => resolve(`answered ${res.statusCode}`));
      patch.on('error', (error) => resolve(`failed: ${error.message}`));
    });
    await new Promise<void>((resolve) => patch.write(layer.subarray(0, layer.length / 2), () => resolve()));
    await waitForOutput(a, /chunk upload begins/);
    await a.kill();
    assert.match(await outcome, /^failed/, 'the client sees its request fail');

    // the survivor serves what was completed, byte for byte
    const manifest = await fetch(`${b.url}/v2/alice/app/manifests/done`, { headers: { ...bearer(token), accept: MT.OciManifest } });
    assert.equal(manifest.status, 200);
    assert.ok((await bodyOf(manifest)).equals(completed.manifest));
    for (const blob of [completed.config, completed.layers[0]!]) {
      const res = await fetch(`${b.url}/v2/alice/app/blobs/${blob.digest}`, { headers: bearer(token) });
      assert.equal(res.status, 200);
      assert.ok((await bodyOf(res)).equals(blob.bytes));
    }
    // nothing of the interrupted chunk counts, and its blob does not exist
    const status = await fetch(new URL(location, b.url), { headers: bearer(token) });
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-0', 'the session still stands at 0 bytes');
    const head = await fetch(`${b.url}/v2/alice/app/blobs/${digest}`, { method: 'HEAD', headers: bearer(token) });
    assert.equal(head.status, 404);

    // the client's retry (a fresh upload, as docker does) succeeds on the survivor
    assert.equal((await pushBlob(b.url, 'alice/app', layer, { token })).digest, digest);
    const config = jsonBytes({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    await pushBlob(b.url, 'alice/app', config, { token });
    const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config), layers: [descriptorOf(MT.OciLayer, layer)] }));
    const put = await fetch(`${b.url}/v2/alice/app/manifests/retried`, {
      method: 'PUT',
      headers: { ...bearer(token), 'content-type': MT.OciManifest },
      body: bin(body),
    });
    assert.equal(put.status, 201, await put.text());
    const pulled = await fetch(`${b.url}/v2/alice/app/blobs/${digest}`, { headers: bearer(token) });
    assert.ok((await bodyOf(pulled)).equals(layer));
  });

  describe('with the docker CLI', { ...skipUnless(daemon) }, () => {
    let docker: DockerClient;
    let c: Replica;
    const refs = new Set<string>();

    before(async () => {
      docker = await DockerClient.create(requireTool(daemon));
      c = await startReplica('c', { ...backends.env, PIER_DATA: join(backends.dir, 'data-c'), PIER_LOG_LEVEL: 'debug' });
    });

    after(async () => {
      await c?.stop();
      await docker?.cleanup(refs);
    });

    it('docker push interrupted by the kill is retried on the survivor and pulls back identical', async () => {
      const local = `pier-kill-test:${Date.now()}`;
      const { id } = await docker.buildImage({ 'big.bin': randomBytes(48 * 1024 * 1024) }, local);
      for (const replica of [b, c]) {
        await docker.ok(['login', '--username', alice.username, '--password-stdin', replica.host], { input: alice.secret });
      }
      const viaC = `${c.host}/alice/big:v1`;
      const viaB = `${b.host}/alice/big:v1`;
      refs.add(viaC).add(viaB);
      await docker.ok(['tag', local, viaC]);
      await docker.ok(['tag', local, viaB]);
      const push = docker.run(['push', viaC]);
      await waitForOutput(c, /chunk upload begins/);
      await c.kill();
      const interrupted = await push;
      assert.notEqual(interrupted.code, 0, 'the push through the killed replica fails');

      const missing = await fetch(`${b.url}/v2/alice/big/manifests/v1`, { headers: { ...bearer(await tokenFor(b.url, alice, ['repository:alice/big:pull'])) } });
      assert.equal(missing.status, 404, 'no manifest of the interrupted push is visible');

      await docker.ok(['push', viaB]);
      await docker.ok(['rmi', viaB, viaC, local]);
      await docker.ok(['pull', viaB]);
      assert.equal((await docker.inspectImage(viaB)).Id, id);
    });
  });
});
