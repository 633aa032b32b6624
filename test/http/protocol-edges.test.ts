// The edges of the distribution protocol that clients meet when something is wrong: a manifest
// naming what the repository lacks, descriptor sizes that lie, a body over the limit or refused
// while the client is still sending it (it must get the answer, not a reset), a body shorter than
// its Content-Length, and referrers in pages. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tokenGet } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import {
  MT,
  assertOciError,
  descriptorOf,
  jsonBytes,
  ociIndex,
  ociManifest,
  pushBlob,
  pushManifest,
  putManifest,
  randomBlob,
  sha256,
  startUpload,
  uniqueName,
} from '../support/oci.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';
import { socketRequest, type SocketExchange } from '../support/socket-client.js';

const MiB = 1024 * 1024;

/** The answer reached a client that kept sending: all of its body went out, no reset, the envelope came. */
function assertReceivedWhileSending(exchange: SocketExchange, total: number, status: number, code: string): void {
  assert.equal(exchange.socketError, undefined, `the client's writes failed (${exchange.socketError}) after ${exchange.sent} bytes`);
  assert.equal(exchange.sent, total, 'the whole body was sent');
  assert.equal(exchange.status, status, exchange.body);
  assert.equal(exchange.headers['docker-distribution-api-version'], 'registry/2.0');
  const envelope = JSON.parse(exchange.body) as { errors: Array<{ code: string; message: string }> };
  assert.equal(envelope.errors[0]?.code, code, exchange.body);
}

for (const { backend, options } of await testBackends()) {
  describe(`protocol edges (${backend})`, options, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({}, { backend });
    });
    after(() => server?.stop());

    describe('what a manifest names', () => {
      it('a blob the repository lacks: 400 MANIFEST_BLOB_UNKNOWN naming it', async () => {
        const repo = `alice/${uniqueName()}`;
        const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
        const missing = randomBlob(30);
        const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes), layers: [descriptorOf(MT.OciLayer, missing)] }));
        const envelope = await assertOciError(await putManifest(server.url, repo, 'x', body, MT.OciManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
        assert.deepEqual(envelope!.errors[0]!.detail, { digest: sha256(missing) });
      });

      it("a layer descriptor whose size is not the stored blob's: 400 MANIFEST_INVALID naming the descriptor, nothing stored", async () => {
        const repo = `alice/${uniqueName()}`;
        const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
        const one = await pushBlob(server.url, repo, randomBlob(40));
        const two = await pushBlob(server.url, repo, randomBlob(50));
        const layers = [descriptorOf(MT.OciLayer, one.bytes), { ...descriptorOf(MT.OciLayer, two.bytes), size: 49 }];
        const body = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes), layers }));
        const envelope = await assertOciError(await putManifest(server.url, repo, 'liar', body, MT.OciManifest), 400, 'MANIFEST_INVALID');
        assert.match(envelope!.errors[0]!.message, /layers\[1\] gives size 49 .* 50 bytes/);
        assert.deepEqual(envelope!.errors[0]!.detail, { descriptor: 'layers[1]', digest: two.digest, size: 49, stored: 50 });
        await assertOciError(await fetch(`${server.url}/v2/${repo}/manifests/liar`), 404, 'MANIFEST_UNKNOWN');
        // the same manifest with the right sizes is taken
        const right = jsonBytes(ociManifest({ config: descriptorOf(MT.OciConfig, config.bytes), layers: [layers[0]!, descriptorOf(MT.OciLayer, two.bytes)] }));
        await pushManifest(server.url, repo, 'honest', right, MT.OciManifest);
      });

      it("a config descriptor whose size is not the stored blob's: refused, naming config", async () => {
        const repo = `alice/${uniqueName()}`;
        const config = await pushBlob(server.url, repo, jsonBytes({ id: uniqueName() }));
        const body = jsonBytes(ociManifest({ config: { ...descriptorOf(MT.OciConfig, config.bytes), size: config.size + 1000 } }));
        const envelope = await assertOciError(await putManifest(server.url, repo, 'x', body, MT.OciManifest), 400, 'MANIFEST_INVALID');
        assert.equal((envelope!.errors[0]!.detail as { descriptor: string }).descriptor, 'config');
      });

      it("an index whose child descriptor's size is not the stored child manifest's: refused, naming manifests[i]", async () => {
        const repo = `alice/${uniqueName()}`;
        const amd64 = await pushImage(server.url, repo, 'amd64', { platform: { architecture: 'amd64', os: 'linux' } });
        const arm64 = await pushImage(server.url, repo, 'arm64', { platform: { architecture: 'arm64', os: 'linux' } });
        const body = jsonBytes(ociIndex([amd64.descriptor, { ...arm64.descriptor, size: arm64.descriptor.size - 1 }]));
        const envelope = await assertOciError(await putManifest(server.url, repo, 'multi', body, MT.OciIndex), 400, 'MANIFEST_INVALID');
        assert.deepEqual(envelope!.errors[0]!.detail, { descriptor: 'manifests[1]', digest: arm64.descriptor.digest, size: arm64.descriptor.size - 1, stored: arm64.descriptor.size });
        await assertOciError(await fetch(`${server.url}/v2/${repo}/manifests/multi`), 404, 'MANIFEST_UNKNOWN');
        await pushManifest(server.url, repo, 'multi', ociIndex([amd64.descriptor, arm64.descriptor]), MT.OciIndex);
      });
    });

    describe('refusals reach a client that is still sending', () => {
      const total = 12 * MiB;

      it('a manifest over the limit (Content-Length declared): 413 received, no broken pipe', async () => {
        const exchange = await socketRequest(server.url, {
          method: 'PUT',
          path: `/v2/alice/${uniqueName()}/manifests/big`,
          headers: { 'content-type': MT.OciManifest },
          total,
        });
        assertReceivedWhileSending(exchange, total, 413, 'SIZE_INVALID');
      });

      it('a manifest over the limit (chunked, no length): 413 received, no broken pipe', async () => {
        const exchange = await socketRequest(server.url, {
          method: 'PUT',
          path: `/v2/alice/${uniqueName()}/manifests/big`,
          headers: { 'content-type': MT.OciManifest },
          total,
          chunked: true,
        });
        assertReceivedWhileSending(exchange, total, 413, 'SIZE_INVALID');
      });

      it('past the bound that is drained, the connection is closed (the answer went out first)', async () => {
        const exchange = await socketRequest(server.url, {
          method: 'PUT',
          path: `/v2/alice/${uniqueName()}/manifests/big`,
          headers: { 'content-type': MT.OciManifest },
          total: 200 * MiB,
          chunkSize: 1 * MiB,
        });
        assert.equal(exchange.status, 413);
        assert.ok(exchange.sent < 200 * MiB, `the server read all ${exchange.sent} bytes`);
        assert.ok(exchange.closed || exchange.socketError !== undefined);
      });
    });

    describe('a body shorter than its Content-Length (the client half-closed)', () => {
      it('a manifest: the OCI envelope, not Fastify JSON', async () => {
        const exchange = await socketRequest(server.url, {
          method: 'PUT',
          path: `/v2/alice/${uniqueName()}/manifests/short`,
          headers: { 'content-type': MT.OciManifest },
          total: 1000,
          halfCloseAfter: 400,
        });
        assert.equal(exchange.status, 400, exchange.body);
        assert.equal(exchange.headers['docker-distribution-api-version'], 'registry/2.0');
        assert.deepEqual(JSON.parse(exchange.body), { errors: [{ code: 'SIZE_INVALID', message: 'the request body ended before its Content-Length' }] });
      });

      it('a chunk of an upload: the OCI envelope, and the upload still stands where it was', async () => {
        const repo = `alice/${uniqueName()}`;
        const upload = await startUpload(server.url, repo);
        const exchange = await socketRequest(server.url, {
          method: 'PATCH',
          path: upload.path,
          headers: { 'content-type': 'application/octet-stream' },
          total: 100_000,
          halfCloseAfter: 30_000,
        });
        assert.equal(exchange.status, 400, exchange.body);
        assert.equal(JSON.parse(exchange.body).errors[0].code, 'SIZE_INVALID');
        const status = await fetch(upload.url);
        assert.equal(status.status, 204);
      });

      it('elsewhere (the API): problem+json', async () => {
        const exchange = await socketRequest(server.url, {
          method: 'POST',
          path: '/api/v1/users/login',
          headers: { 'content-type': 'application/json' },
          total: 1000,
          halfCloseAfter: 10,
        });
        assert.equal(exchange.status, 400, exchange.body);
        assert.equal(exchange.headers['content-type'], 'application/problem+json');
        assert.equal(JSON.parse(exchange.body).type, 'https://pier.dev/problems/validation');
      });
    });

    describe('referrers in pages', () => {
      it('n and Link: every referrer once, in digest order, the filter kept in the Link', async () => {
        const repo = `alice/${uniqueName()}`;
        const subject = await pushImage(server.url, repo, 'subject');
        const config = await pushBlob(server.url, repo, jsonBytes({}));
        const digests: string[] = [];
        for (let i = 0; i < 7; i++) {
          const body = ociManifest({
            config: descriptorOf('application/vnd.oci.empty.v1+json', config.bytes),
            artifactType: i % 2 ? 'application/x.sig' : 'application/x.sbom',
            subject: subject.descriptor,
            annotations: { i: String(i) },
          });
          digests.push((await pushManifest(server.url, repo, sha256(jsonBytes(body)), body, MT.OciManifest)).digest);
        }
        const seen: string[] = [];
        let url: string | undefined = `/v2/${repo}/referrers/${subject.descriptor.digest}?n=3`;
        let pages = 0;
        while (url) {
          const res: Response = await fetch(`${server.url}${url}`);
          assert.equal(res.status, 200);
          const index = (await res.json()) as { manifests: Array<{ digest: string }> };
          assert.ok(index.manifests.length <= 3);
          seen.push(...index.manifests.map((m) => m.digest));
          url = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
          pages++;
        }
        assert.equal(pages, 3);
        assert.deepEqual(seen, [...digests].sort());

        const filtered: string[] = [];
        url = `/v2/${repo}/referrers/${subject.descriptor.digest}?n=2&artifactType=${encodeURIComponent('application/x.sig')}`;
        while (url) {
          const res: Response = await fetch(`${server.url}${url}`);
          assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
          filtered.push(...((await res.json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest));
          url = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
          if (url) assert.match(url, /artifactType=application%2Fx\.sig/);
        }
        assert.deepEqual(filtered, digests.filter((_, i) => i % 2).sort());
        // without n: one page, no Link
        const all = await fetch(`${server.url}/v2/${repo}/referrers/${subject.descriptor.digest}`);
        assert.equal(all.headers.get('link'), null);
        assert.equal(((await all.json()) as { manifests: unknown[] }).manifests.length, 7);
        await assertOciError(await fetch(`${server.url}/v2/${repo}/referrers/${subject.descriptor.digest}?n=x`), 400, 'PAGINATION_NUMBER_INVALID');
      });
    });
  });

  describe(`refusals of streamed bodies reach the client (${backend}, token mode)`, options, () => {
    let server: TestServer;
    const total = 8 * MiB;
    before(async () => {
      server = await startTestServer({ 'auth.mode': 'token' }, { backend });
      await server.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
    });
    after(() => server?.stop());

    it('no permission: 401 received while the blob is still being sent', async () => {
      const digest = sha256(Buffer.alloc(total, 0x78));
      const exchange = await socketRequest(server.url, {
        method: 'POST',
        path: `/v2/alice/app/blobs/uploads/?digest=${digest}`,
        headers: { 'content-type': 'application/octet-stream' },
        total,
      });
      assertReceivedWhileSending(exchange, total, 401, 'UNAUTHORIZED');
    });

    it('over the storage quota: 403 DENIED with the plan message, received while the blob is still being sent', async () => {
      await server.hub.plans.update('free', { storageBytes: 1000 });
      try {
        const token = (await tokenGet(server.url, { login: { username: 'alice', secret: 'alice-password-1' }, scopes: ['repository:alice/app:push,pull'] })).body.token as string;
        const digest = sha256(Buffer.alloc(total, 0x78));
        const exchange = await socketRequest(server.url, {
          method: 'POST',
          path: `/v2/alice/app/blobs/uploads/?digest=${digest}`,
          headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
          total,
        });
        assertReceivedWhileSending(exchange, total, 403, 'DENIED');
        assert.match(JSON.parse(exchange.body).errors[0].message, /storage/);
      } finally {
        await server.hub.plans.update('free', { storageBytes: 2_000_000_000 });
      }
    });
  });
}
