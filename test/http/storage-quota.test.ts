// A storage quota counts every byte a namespace holds or is receiving: blobs linked into its
// repositories whether a manifest names them or not, its manifests, the bytes of its open upload
// sessions; and a namespace holds a bounded number of open sessions. What the red team did (eight
// 90 kB unreferenced blobs under a 300 kB quota, thousands of sessions) is refused. A manifest of
// 33,000 distinct layers under a quota is answered, not a 500. Usage counts distinct content: a
// manifest pushed again or tagged anew adds nothing. Bodies in flight count while they stream (a
// declared length at once, a streamed one as it reserves room ahead of its bytes), so parallel
// uploads cannot each take the room that is left. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { MT, assertOciError, bin, jsonBytes, ociManifest, pushBlob, randomBlob, sha256 } from '../support/oci.js';
import { testBackends } from '../support/server.js';
import { socketRequest } from '../support/socket-client.js';

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
      for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await createUser(server, name);
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

    it('at exactly the quota, a manifest the namespace holds may be pushed again and tagged anew; a new one is refused', async () => {
      const token = await tokenOf('frank', 'frank/app');
      const image = await pushImage(server.url, 'frank/app', 'v1', { token });
      const used = await usage('frank');
      await quota(used);
      try {
        const put = (reference: string, body: Buffer) =>
          fetch(`${server.url}/v2/frank/app/manifests/${reference}`, { method: 'PUT', headers: { ...bearer(token), 'content-type': image.mediaType }, body: bin(body) });
        for (const reference of ['v1', 'v2', 'latest', image.digest]) {
          const res = await put(reference, image.manifest);
          assert.equal(res.status, 201, `${reference}: ${await res.text()}`);
        }
        assert.equal(await usage('frank'), used, 'the same bytes, held once');
        const other = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
        const changed = jsonBytes({ ...other, annotations: { n: '1' } });
        await assertOciError(await put('v3', changed), 403, 'DENIED', { message: /this manifest adds/ });
      } finally {
        await quota(2_000_000_000);
      }
    });

    it('parallel one-request uploads cannot together pass the quota: a declared length counts from the start', async () => {
      const token = await tokenOf('gina', 'gina/files');
      await quota(300_000);
      try {
        // six 100 kB blobs sent at once, each over about 300 ms: before any ends, all have asked
        const bodies = Array.from({ length: 6 }, (_, i) => 0x61 + i);
        const exchanges = await Promise.all(
          bodies.map((fill) =>
            socketRequest(server.url, {
              method: 'POST',
              path: `/v2/gina/files/blobs/uploads/?digest=${sha256(Buffer.alloc(100_000, fill))}`,
              headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
              total: 100_000,
              chunkSize: 10_000,
              delayMs: 30,
              fill,
            }),
          ),
        );
        const statuses = exchanges.map((e) => e.status);
        const stored = statuses.filter((s) => s === 201).length;
        assert.ok(stored >= 1 && stored <= 3, `${stored} stored: ${statuses.join(' ')}`);
        for (const exchange of exchanges.filter((e) => e.status !== 201)) {
          assert.equal(exchange.status, 403, exchange.body);
          assert.match(exchange.body, /DENIED.*storage of the free plan/);
        }
        assert.equal(await usage('gina'), stored * 100_000, 'nothing past the quota, and no reservation left behind');
      } finally {
        await quota(2_000_000_000);
      }
    });

    it('parallel streamed chunks (no Content-Length) cannot together pass the quota: they reserve room ahead of their bytes', async () => {
      const token = await tokenOf('hank', 'hank/app');
      await quota(200_000);
      try {
        const locations: string[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await fetch(`${server.url}/v2/hank/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
          assert.equal(res.status, 202);
          locations.push(res.headers.get('location')!);
        }
        // three 100 kB chunks at once under 200 kB: they cannot all be kept
        const exchanges = await Promise.all(
          locations.map((location, i) =>
            socketRequest(server.url, {
              method: 'PATCH',
              path: new URL(location, server.url).pathname,
              headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
              chunked: true,
              total: 100_000,
              chunkSize: 10_000,
              delayMs: 30,
              fill: 0x61 + i,
            }),
          ),
        );
        const statuses = exchanges.map((e) => e.status);
        const kept = statuses.filter((s) => s === 202).length;
        assert.ok(kept <= 2, `${kept} kept: ${statuses.join(' ')}`);
        for (const exchange of exchanges.filter((e) => e.status !== 202)) {
          assert.equal(exchange.status, 403, exchange.body);
          assert.match(exchange.body, /DENIED.*storage of the free plan/);
        }
        const used = await usage('hank');
        assert.equal(used, kept * 100_000, 'what the kept sessions hold, and no reservation left behind');
        assert.ok(used <= 200_000);
        for (const location of locations) await fetch(new URL(location, server.url), { method: 'DELETE', headers: bearer(token) });
      } finally {
        await quota(2_000_000_000);
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
