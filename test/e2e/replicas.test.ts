// Two Pier processes over the same PostgreSQL, object store and Redis, requests alternating
// between them, as behind a load balancer: docker pushes through one and pulls through the
// other, a chunked upload moves between them, tokens, login throttling and tags are shared.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { basic, bearer, jwtPayload, tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { bin, bodyOf, sha256, withQuery } from '../support/oci.js';
import { startReplicas, type Replica } from '../support/replicas.js';
import { scaleOutBackends, skipUnlessScaleOut, type ScaleOut } from '../support/scale-out.js';

const daemon = await findDockerDaemon();
const skip = (await skipUnlessScaleOut()) ?? {};

async function signUp(replica: Replica, username: string, password: string): Promise<void> {
  const res = await fetch(`${replica.url}/api/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(res.status, 201, await res.text());
}

describe('two replicas over shared backends', { ...skip, timeout: 10 * 60_000 }, () => {
  let backends: ScaleOut;
  let a: Replica;
  let b: Replica;
  const alice = { username: 'alice', secret: 'alice-password-1' };

  before(async () => {
    backends = await scaleOutBackends();
    [a, b] = (await startReplicas(2, backends)) as [Replica, Replica];
    await signUp(a, alice.username, alice.secret);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backends?.cleanup();
  });

  it('accepts on one replica a token issued by the other', async () => {
    const token = await tokenFor(a.url, alice, ['repository:alice/shared:pull,push']);
    const image = await pushImage(b.url, 'alice/shared', 'v1', { token });
    const res = await fetch(`${a.url}/v2/alice/shared/manifests/v1`, { headers: { ...bearer(token), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await bodyOf(res), image.manifest);
    assert.equal(jwtPayload(token).iss, 'pier');
  });

  it('finishes on one replica a chunked upload started on the other', async () => {
    const token = await tokenFor(a.url, alice, ['repository:alice/chunks:pull,push']);
    const auth = bearer(token);
    const first = randomBytes(6 * 1024 * 1024);
    const second = randomBytes(3 * 1024 * 1024 + 17);
    const third = randomBytes(1024 * 1024);
    const whole = Buffer.concat([first, second, third]);

    const started = await fetch(`${a.url}/v2/alice/chunks/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(started.status, 202);
    const location = started.headers.get('location')!;
    const patch = async (replica: Replica, path: string, chunk: Buffer, offset: number) => {
      const res = await fetch(new URL(path, replica.url), {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
        body: bin(chunk),
      });
      assert.equal(res.status, 202, `${replica.name}: ${await res.text()}`);
      assert.equal(res.headers.get('range'), `0-${offset + chunk.length - 1}`);
      return res.headers.get('location')!;
    };
    const afterFirst = await patch(a, location, first, 0);
    // the second chunk continues on the replica that has no hash of the first in memory
    const afterSecond = await patch(b, afterFirst, second, first.length);
    // and the final PUT carries the last chunk, back on the first replica
    const put = await fetch(withQuery(new URL(afterSecond, a.url).toString(), `digest=${sha256(whole)}`), {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: bin(third),
    });
    assert.equal(put.status, 201, await put.text());
    for (const replica of [a, b]) {
      const res = await fetch(`${replica.url}/v2/alice/chunks/blobs/${sha256(whole)}`, { headers: auth });
      assert.equal(res.status, 200);
      assert.ok((await bodyOf(res)).equals(whole), `${replica.name} serves the blob byte for byte`);
    }
  });

  it('completes with a bodyless PUT on one replica what the other received', async () => {
    const token = await tokenFor(b.url, alice, ['repository:alice/chunks:pull,push']);
    const bytes = randomBytes(2 * 1024 * 1024 + 5);
    const started = await fetch(`${b.url}/v2/alice/chunks/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
    const patched = await fetch(new URL(started.headers.get('location')!, b.url), {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
      body: bin(bytes),
    });
    assert.equal(patched.status, 202);
    const put = await fetch(withQuery(new URL(patched.headers.get('location')!, a.url).toString(), `digest=${sha256(bytes)}`), {
      method: 'PUT',
      headers: bearer(token),
    });
    assert.equal(put.status, 201, await put.text());
  });

  it('shares login throttling', async () => {
    await signUp(b, 'carol', 'carol-password-1');
    for (let i = 0; i < 5; i++) {
      const replica = i % 2 === 0 ? a : b;
      const res = await fetch(`${replica.url}/token?service=pier`, { headers: { authorization: basic({ username: 'carol', secret: `wrong-${i}` }) } });
      assert.equal(res.status, 401, `failure ${i + 1} on ${replica.name}`);
    }
    for (const replica of [a, b]) {
      const res = await fetch(`${replica.url}/token?service=pier`, { headers: { authorization: basic({ username: 'carol', secret: 'carol-password-1' }) } });
      assert.equal(res.status, 429, `${replica.name} counts the failures made on both`);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    }
  });

  it('shows a tag moved on one replica at once on the other', async () => {
    const token = await tokenFor(a.url, alice, ['repository:alice/moving:pull,push,delete']);
    const accept = { ...bearer(token), accept: 'application/vnd.oci.image.manifest.v1+json' };
    const digestOn = async (replica: Replica) => {
      const res = await fetch(`${replica.url}/v2/alice/moving/manifests/latest`, { headers: accept });
      await res.arrayBuffer();
      return res.status === 200 ? res.headers.get('docker-content-digest') : res.status;
    };
    const first = await pushImage(a.url, 'alice/moving', 'latest', { token });
    for (let i = 0; i < 3; i++) assert.equal(await digestOn(b), first.digest); // hot on b
    const second = await pushImage(a.url, 'alice/moving', 'latest', { token });
    assert.equal(await digestOn(b), second.digest);
    const removed = await fetch(`${b.url}/v2/alice/moving/manifests/${second.digest}`, { method: 'DELETE', headers: bearer(token) });
    assert.equal(removed.status, 202);
    assert.equal(await digestOn(a), 404);
  });

  describe('with the docker CLI', { ...skipUnless(daemon) }, () => {
    let docker: DockerClient;
    const refs = new Set<string>();

    before(async () => {
      docker = await DockerClient.create(requireTool(daemon));
    });

    after(async () => {
      await docker?.cleanup(refs);
    });

    it('pushes through one replica and pulls through the other', async () => {
      const local = `pier-replicas-test:${Date.now()}`;
      const { id } = await docker.buildImage({ 'one.bin': randomBytes(3 * 1024 * 1024), 'two.bin': randomBytes(200_000) }, local);
      for (const replica of [a, b]) {
        await docker.ok(['login', '--username', alice.username, '--password-stdin', replica.host], { input: alice.secret });
      }
      const pushed = `${a.host}/alice/app:v1`;
      const pulled = `${b.host}/alice/app:v1`;
      refs.add(pushed).add(pulled);
      await docker.ok(['tag', local, pushed]);
      await docker.ok(['push', pushed]);
      await docker.ok(['rmi', pushed, local]);
      await docker.ok(['pull', pulled]);
      assert.equal((await docker.inspectImage(pulled)).Id, id);
    });
  });
});

