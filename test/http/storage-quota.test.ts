// A storage quota counts every byte a namespace holds or is receiving: blobs linked into its
// repositories whether a manifest names them or not, its manifests, the bytes of its open upload
// sessions; and a namespace holds a bounded number of open sessions. What the red team did (eight
// 90 kB unreferenced blobs under a 300 kB quota, thousands of sessions) is refused. A manifest of
// 33,000 distinct layers under a quota is answered, not a 500. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { MT, assertOciError, bin, jsonBytes, ociManifest, pushBlob, randomBlob, sha256 } from '../support/oci.js';
import { testBackends } from '../support/server.js';

const admin = { basic: ['boss', PASSWORD] as [string, string] };

for (const { backend, options } of await testBackends()) {
  describe(`storage quota counts every byte (${backend})`, options, () => {
    let server: ApiServer;
    const usage = async (namespace: string) =>
      (await expectJson<{ storage_bytes: number }>(await server.api(`/namespaces/${namespace}/usage`, { auth: admin }), 200)).storage_bytes;
    const tokenOf = (name: string, repo: string) => tokenFor(server.url, { username: name, secret: PASSWORD }, [`repository:${repo}:pull,push`]);

    before(async () => {
      server = await startApiServer({ 'uploads.maxOpenSessions': 3, 'manifests.maxBytes': 8 * 1024 * 1024 }, { backend });
      await createUser(server, 'boss', { admin: true });
      for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await createUser(server, name);
    });
    after(() => server?.stop());
    // each test sets the free plan's quota; the next starts from the default
    const quota = (bytes: number) => server.hub.plans.update('free', { storageBytes: bytes });

    it('unreferenced blobs count: of eight 90 kB blobs under a 300 kB quota, three are stored', async () => {
      const token = await tokenOf('alice', 'alice/files');
      await quota(300_000);
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++) {
          const blob = randomBlob(90_000);
          const res = await fetch(`${server.url}/v2/alice/files/blobs/uploads/?digest=${sha256(blob)}`, {
            method: 'POST',
            headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
            body: bin(blob),
          });
          statuses.push(res.status);
          if (res.status !== 201) await assertOciError(res, 403, 'DENIED', { message: /storage of the free plan/ });
          else await res.arrayBuffer();
        }
        assert.deepEqual(statuses, [201, 201, 201, 403, 403, 403, 403, 403]);
        assert.equal(await usage('alice'), 270_000);
      } finally {
        await quota(2_000_000_000);
      }
    });

    it('a blob linked into two repositories of a namespace counts once; manifests count their bytes', async () => {
      const token = await tokenOf('bob', 'bob/one');
      const image = await pushImage(server.url, 'bob/one', 'v1', { token });
      const blobs = [image.config, ...image.layers].reduce((sum, b) => sum + b.size, 0);
      assert.equal(await usage('bob'), blobs + image.manifest.length);
      const second = await tokenFor(server.url, { username: 'bob', secret: PASSWORD }, ['repository:bob/two:pull,push', 'repository:bob/one:pull']);
      const layer = image.layers[0]!;
      const mount = await fetch(`${server.url}/v2/bob/two/blobs/uploads/?mount=${layer.digest}&from=bob/one`, { method: 'POST', headers: bearer(second) });
      assert.equal(mount.status, 201);
      assert.equal(await usage('bob'), blobs + image.manifest.length, 'the mounted layer is not counted twice');
    });

    it("open sessions count what they received: a new upload is stopped where the quota ends", async () => {
      const token = await tokenOf('carol', 'carol/app');
      await quota(300_000);
      try {
        const start = await fetch(`${server.url}/v2/carol/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
        assert.equal(start.status, 202);
        const location = new URL(start.headers.get('location')!, server.url).toString();
        const patch = await fetch(location, { method: 'PATCH', headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, body: bin(randomBlob(200_000)) });
        assert.equal(patch.status, 202, await patch.text());
        assert.equal(await usage('carol'), 200_000, 'the session holds 200 kB, not yet a blob');
        const blob = randomBlob(150_000);
        const refused = await fetch(`${server.url}/v2/carol/app/blobs/uploads/?digest=${sha256(blob)}`, {
          method: 'POST',
          headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
          body: bin(blob),
        });
        await assertOciError(refused, 403, 'DENIED', { message: /past the 300 kB of storage of the free plan/ });
        // the session itself may still grow up to the quota (its own bytes are not counted twice)
        const more = await fetch(location, { method: 'PATCH', headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, body: bin(randomBlob(90_000)) });
        assert.equal(more.status, 202, await more.text());
        const cancel = await fetch(location, { method: 'DELETE', headers: bearer(token) });
        assert.equal(cancel.status, 204);
        assert.equal(await usage('carol'), 0);
      } finally {
        await quota(2_000_000_000);
      }
    });

    it('a manifest whose own bytes would pass the quota is refused, naming them', async () => {
      const token = await tokenOf('dave', 'dave/app');
      const config = await pushBlob(server.url, 'dave/app', jsonBytes({ id: 'dave' }), { token });
      const used = await usage('dave');
      await quota(used + 100);
      try {
        const body = jsonBytes(ociManifest({ config: { mediaType: MT.OciConfig, digest: config.digest, size: config.size }, annotations: { pad: 'x'.repeat(200) } }));
        const res = await fetch(`${server.url}/v2/dave/app/manifests/v1`, { method: 'PUT', headers: { ...bearer(token), 'content-type': MT.OciManifest }, body: bin(body) });
        await assertOciError(res, 403, 'DENIED', { message: /this manifest adds .* bytes to the/ });
      } finally {
        await quota(2_000_000_000);
      }
    });

    it('open sessions per namespace are capped (uploads.maxOpenSessions), the refusal names the setting', async () => {
      const token = await tokenOf('erin', 'erin/app');
      const locations: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/v2/erin/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
        assert.equal(res.status, 202);
        locations.push(new URL(res.headers.get('location')!, server.url).toString());
      }
      const fourth = await fetch(`${server.url}/v2/erin/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      await assertOciError(fourth, 403, 'DENIED', { message: /erin has 3 open upload sessions.*uploads\.maxOpenSessions = 3/ });
      assert.equal((await fetch(locations[0]!, { method: 'DELETE', headers: bearer(token) })).status, 204);
      const again = await fetch(`${server.url}/v2/erin/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      assert.equal(again.status, 202);
      for (const location of [...locations.slice(1), new URL(again.headers.get('location')!, server.url).toString()]) {
        await fetch(location, { method: 'DELETE', headers: bearer(token) });
      }
    });

    it('a manifest of 33,000 distinct layers under a quota: answered (MANIFEST_BLOB_UNKNOWN), not a 500', async () => {
      const token = await tokenOf('erin', 'erin/huge');
      const config = await pushBlob(server.url, 'erin/huge', jsonBytes({ id: 'huge' }), { token });
      await quota(1_000_000_000);
      try {
        const layers = Array.from({ length: 33_000 }, (_, i) => ({ mediaType: MT.OciLayer, digest: sha256(`layer ${i}`), size: 10 }));
        const body = jsonBytes(ociManifest({ config: { mediaType: MT.OciConfig, digest: config.digest, size: config.size }, layers }));
        const res = await fetch(`${server.url}/v2/erin/huge/manifests/v1`, { method: 'PUT', headers: { ...bearer(token), 'content-type': MT.OciManifest }, body: bin(body) });
        await assertOciError(res, 400, 'MANIFEST_BLOB_UNKNOWN', { message: /and 32999 more/ });
      } finally {
        await quota(2_000_000_000);
      }
    });
  });
}
