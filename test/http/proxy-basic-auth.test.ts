/**
 * An upstream that asks for Basic credentials (the reference registry with an htpasswd file): the
 * pull-through cache and a replication rule send the sealed credentials; wrong ones are named.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireTool, skipUnless } from '../support/exec.js';
import { ACCEPT_ALL, makeImage, pushImage } from '../support/images.js';
import { assertOciError, pushManifest, sha256 } from '../support/oci.js';
import { findHtpasswd, findReferenceRegistry, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';
import { startTestServer, type TestServer } from '../support/server.js';

const reference = await findReferenceRegistry();
const htpasswd = await findHtpasswd();
const login = { username: 'mirror', password: 'upstream basic secret' };
const basic = `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;

describe('an upstream with Basic authentication (the reference registry with htpasswd)', skipUnless(!reference.ok ? reference : htpasswd), () => {
  let upstream: ReferenceRegistry;
  let server: TestServer;

  before(async () => {
    requireTool(htpasswd);
    upstream = await startReferenceRegistry(requireTool(reference), { basic: login });
    server = await startTestServer({});
  });

  after(async () => {
    await server?.stop();
    await upstream?.stop();
  });

  it('the cache pulls with the proxy’s credentials, and says when they are wrong', async () => {
    const image = makeImage({ layerBytes: 20_000 });
    for (const blob of [image.config, ...image.layers]) {
      const started = await fetch(`${upstream.url}/v2/library/basic/blobs/uploads/`, { method: 'POST', headers: { authorization: basic } });
      assert.equal(started.status, 202);
      const location = new URL(started.headers.get('location')!, upstream.url);
      location.searchParams.set('digest', blob.digest);
      const put = await fetch(location, { method: 'PUT', headers: { authorization: basic }, body: new Uint8Array(blob.bytes) });
      assert.equal(put.status, 201);
    }
    const put = await fetch(`${upstream.url}/v2/library/basic/manifests/v1`, { method: 'PUT', headers: { authorization: basic, 'content-type': image.mediaType }, body: new Uint8Array(image.manifest) });
    assert.equal(put.status, 201);

    await server.hub.proxies.add('wrong', { url: upstream.url, credentials: { username: login.username, password: 'not it' } });
    const refused = await fetch(`${server.url}/v2/wrong/library/basic/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    await assertOciError(refused, 404, 'MANIFEST_UNKNOWN', { message: /refused access .*credentials of mirror/ });

    await server.hub.proxies.add('basic', { url: upstream.url, credentials: login });
    const manifest = await fetch(`${server.url}/v2/basic/library/basic/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    assert.equal(manifest.status, 200);
    assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest);
    const layer = await fetch(`${server.url}/v2/basic/library/basic/blobs/${image.layers[0]!.digest}`);
    assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), image.layers[0]!.digest);
  });

  it('a replication rule pushes with its credentials', async () => {
    const pushed = await pushImage(server.url, 'alice/app', 'v1', { layerBytes: 10_000 });
    await server.replication.rules.create('to-basic', { direction: 'push', url: upstream.url, repositories: ['alice/app'], credentials: login });
    const run = await server.replication.runNow('to-basic');
    assert.equal(run.status, 'succeeded', run.error ?? '');
    const res = await fetch(`${upstream.url}/v2/alice/app/manifests/${pushed.digest}`, { headers: { authorization: basic, accept: ACCEPT_ALL } });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), pushed.manifest);

    await server.replication.rules.update('to-basic', { credentials: { username: login.username, password: 'not it' } });
    await pushManifest(server.url, 'alice/app', 'v2', pushed.manifest, pushed.mediaType);
    const failed = await server.replication.runNow('to-basic');
    assert.notEqual(failed.status, 'succeeded');
    assert.match(failed.error ?? '', /refused the credentials of mirror/);
  });
});
