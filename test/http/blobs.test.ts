import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOciError, bodyOf, pushBlob, randomBlob, rawRequest, sha256, uniqueName, type PushedBlob } from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('blobs', () => {
  let server: TestServer;
  let repo: string;
  let blob: PushedBlob;
  before(async () => {
    server = await startTestServer();
    repo = `alice/${uniqueName()}`;
    blob = await pushBlob(server.url, repo, Buffer.from('0123456789abcdefghij')); // 20 bytes
  });
  after(() => server.stop());

  const blobUrl = (name: string, digest: string) => `${server.url}/v2/${name}/blobs/${digest}`;

  describe('GET and HEAD', () => {
    it('GET serves the bytes with Content-Length, Docker-Content-Digest and Content-Type', async () => {
      const res = await fetch(blobUrl(repo, blob.digest));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), '20');
      assert.equal(res.headers.get('docker-content-digest'), blob.digest);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.deepEqual(await bodyOf(res), blob.bytes);
    });

    it('HEAD has the same headers as GET and no body', async () => {
      const get = await fetch(blobUrl(repo, blob.digest));
      await get.arrayBuffer();
      const head = await rawRequest(server.url, { method: 'HEAD', path: `/v2/${repo}/blobs/${blob.digest}` });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      for (const name of ['content-length', 'docker-content-digest', 'content-type', 'etag', 'accept-ranges']) {
        assert.equal(head.headers[name], get.headers.get(name) ?? undefined, `header ${name}`);
      }
      assert.equal(head.headers['content-length'], '20');
    });

    it('serves a larger blob intact', async () => {
      const data = randomBlob(3 * 1024 * 1024 + 17);
      const big = await pushBlob(server.url, repo, data);
      const res = await fetch(blobUrl(repo, big.digest));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(data.length));
      const got = await bodyOf(res);
      assert.equal(sha256(got), big.digest);
    });

    it('answers an unknown blob with 404 BLOB_UNKNOWN (GET) and 404 without a body (HEAD)', async () => {
      const unknown = sha256(randomBlob(8));
      await assertOciError(await fetch(blobUrl(repo, unknown)), 404, 'BLOB_UNKNOWN');
      const head = await fetch(blobUrl(repo, unknown), { method: 'HEAD' });
      await assertOciError(head, 404, 'BLOB_UNKNOWN', { head: true });
    });

    it('answers a blob in an unknown repository with 404 BLOB_UNKNOWN', async () => {
      await assertOciError(await fetch(blobUrl(`nobody/${uniqueName()}`, blob.digest)), 404, 'BLOB_UNKNOWN');
    });

    it('does not serve a blob linked in another repository', async () => {
      const other = `bob/${uniqueName()}`;
      await pushBlob(server.url, other, randomBlob(4)); // the other repository exists
      await assertOciError(await fetch(blobUrl(other, blob.digest)), 404, 'BLOB_UNKNOWN');
      const head = await fetch(blobUrl(other, blob.digest), { method: 'HEAD' });
      assert.equal(head.status, 404);
    });

    it('refuses a malformed digest with 400 DIGEST_INVALID', async () => {
      for (const digest of ['sha256:123', 'sha256:' + 'x'.repeat(64), 'foo:' + 'a'.repeat(64), 'sha256:' + 'A'.repeat(64)]) {
        await assertOciError(await fetch(blobUrl(repo, digest)), 400, 'DIGEST_INVALID');
      }
    });
  });

  describe('Range requests', () => {
    const cases: Array<[string, number, number, string]> = [
      ['bytes=0-4', 0, 4, '01234'],
      ['bytes=5-', 5, 19, '56789abcdefghij'],
      ['bytes=-3', 17, 19, 'hij'],
      ['bytes=7-7', 7, 7, '7'],
      ['bytes=15-100', 15, 19, 'fghij'],
      ['bytes=-100', 0, 19, '0123456789abcdefghij'],
    ];
    for (const [range, start, end, expected] of cases) {
      it(`answers ${range} with 206 and Content-Range bytes ${start}-${end}/20`, async () => {
        const res = await fetch(blobUrl(repo, blob.digest), { headers: { range } });
        assert.equal(res.status, 206);
        assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/20`);
        assert.equal(res.headers.get('content-length'), String(end - start + 1));
        assert.equal(res.headers.get('docker-content-digest'), blob.digest);
        assert.equal((await bodyOf(res)).toString(), expected);
      });
    }

    it('answers a HEAD with a range like the GET, without a body', async () => {
      const res = await rawRequest(server.url, { method: 'HEAD', path: `/v2/${repo}/blobs/${blob.digest}`, headers: { range: 'bytes=0-4' } });
      assert.equal(res.status, 206);
      assert.equal(res.headers['content-range'], 'bytes 0-4/20');
      assert.equal(res.headers['content-length'], '5');
      assert.equal(res.body.length, 0);
    });

    for (const range of ['bytes=100-200', 'bytes=20-', 'bytes=5-2', 'bytes=-0', 'bytes=abc']) {
      it(`answers ${range} with 416 and Content-Range bytes */20`, async () => {
        const res = await fetch(blobUrl(repo, blob.digest), { headers: { range } });
        assert.equal(res.headers.get('content-range'), 'bytes */20');
        await assertOciError(res, 416, 'RANGE_INVALID');
      });
    }

    it('serves the whole blob for a range it does not handle (other units, several ranges)', async () => {
      for (const range of ['items=0-4', 'bytes=0-1,3-4']) {
        const res = await fetch(blobUrl(repo, blob.digest), { headers: { range } });
        assert.equal(res.status, 200, range);
        assert.equal(res.headers.get('content-range'), null);
        assert.deepEqual(await bodyOf(res), blob.bytes);
      }
    });

    it('checks the blob exists before the range: 404 for an unknown blob with a Range', async () => {
      const res = await fetch(blobUrl(repo, sha256(randomBlob(3))), { headers: { range: 'bytes=0-4' } });
      await assertOciError(res, 404, 'BLOB_UNKNOWN');
    });
  });

  describe('DELETE', () => {
    it('answers 202, then the blob is 404 in that repository and still readable in another that has it', async () => {
      const a = `alice/${uniqueName()}`;
      const b = `bob/${uniqueName()}`;
      const data = randomBlob(256);
      const pushed = await pushBlob(server.url, a, data);
      await pushBlob(server.url, b, data);

      const del = await fetch(blobUrl(a, pushed.digest), { method: 'DELETE' });
      assert.equal(del.status, 202);
      assert.equal(await del.text(), '');

      await assertOciError(await fetch(blobUrl(a, pushed.digest)), 404, 'BLOB_UNKNOWN');
      assert.equal((await fetch(blobUrl(a, pushed.digest), { method: 'HEAD' })).status, 404);

      const fromB = await fetch(blobUrl(b, pushed.digest));
      assert.equal(fromB.status, 200);
      assert.deepEqual(await bodyOf(fromB), data);
    });

    it('answers a second DELETE, or a DELETE of an unknown blob, with 404 BLOB_UNKNOWN', async () => {
      const a = `alice/${uniqueName()}`;
      const pushed = await pushBlob(server.url, a, randomBlob(10));
      const first = await fetch(blobUrl(a, pushed.digest), { method: 'DELETE' });
      await first.arrayBuffer();
      assert.equal(first.status, 202);
      await assertOciError(await fetch(blobUrl(a, pushed.digest), { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
      await assertOciError(await fetch(blobUrl(a, sha256(randomBlob(5))), { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
    });

    it('does not delete a blob through a repository that never had it', async () => {
      const a = `alice/${uniqueName()}`;
      const pushed = await pushBlob(server.url, a, randomBlob(10));
      await assertOciError(await fetch(blobUrl(`bob/${uniqueName()}`, pushed.digest), { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
      assert.equal((await fetch(blobUrl(a, pushed.digest), { method: 'HEAD' })).status, 200);
    });

    it('refuses a DELETE with a malformed digest: 400 DIGEST_INVALID', async () => {
      await assertOciError(await fetch(blobUrl(repo, 'sha256:zz'), { method: 'DELETE' }), 400, 'DIGEST_INVALID');
    });

    it('lets the blob be pushed again after a delete', async () => {
      const a = `alice/${uniqueName()}`;
      const data = randomBlob(30);
      const pushed = await pushBlob(server.url, a, data);
      await (await fetch(blobUrl(a, pushed.digest), { method: 'DELETE' })).arrayBuffer();
      await pushBlob(server.url, a, data);
      const res = await fetch(blobUrl(a, pushed.digest));
      assert.equal(res.status, 200);
      assert.deepEqual(await bodyOf(res), data);
    });
  });
});
