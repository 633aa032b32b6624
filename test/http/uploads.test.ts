import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  assertOciError,
  bin,
  bodyOf,
  pushBlob,
  randomBlob,
  sha256,
  sha512,
  startUpload,
  uniqueName,
  withQuery,
} from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function patch(url: string, data: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', ...headers }, body: bin(data) });
  return res;
}

/** A body without Content-Length: chunked transfer encoding, as a streaming client sends it. */
function streamed(parts: Buffer[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(new Uint8Array(part));
      controller.close();
    },
  });
}

async function readBlob(base: string, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`${base}/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200);
  return bodyOf(res);
}

/** PUT ?digest= without a body: 201, and the repository serves exactly `data`. */
async function completeAndRead(base: string, uploadUrl: string, repo: string, data: Buffer): Promise<void> {
  const put = await fetch(withQuery(uploadUrl, `digest=${sha256(data)}`), { method: 'PUT' });
  await put.arrayBuffer();
  assert.equal(put.status, 201);
  assert.deepEqual(await readBlob(base, repo, sha256(data)), data);
}

async function status(url: string): Promise<Response> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res;
}

describe('blob uploads', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  describe('POST /v2/<name>/blobs/uploads/', () => {
    it('starts a session: 202, relative Location, Docker-Upload-UUID, Range 0-0', async () => {
      const repo = `alice/${uniqueName()}`;
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      assert.equal(await res.text(), '');
      const uuid = res.headers.get('docker-upload-uuid');
      assert.match(uuid ?? '', UUID);
      assert.equal(res.headers.get('location'), `/v2/${repo}/blobs/uploads/${uuid}`);
      assert.equal(res.headers.get('range'), '0-0');
      assert.equal(res.headers.get('content-length'), '0');
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    });

    it('accepts the POST without the trailing slash', async () => {
      const repo = `alice/${uniqueName()}`;
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      assert.match(res.headers.get('location') ?? '', new RegExp(`^/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
    });

    it('gives every session its own id', async () => {
      const repo = `alice/${uniqueName()}`;
      const a = await startUpload(server.url, repo);
      const b = await startUpload(server.url, repo);
      assert.notEqual(a.uuid, b.uuid);
    });

    it('takes a whole blob with ?digest= (monolithic): 201, Location, Docker-Content-Digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const data = randomBlob(1234);
      const digest = sha256(data);
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bin(data),
      });
      assert.equal(res.status, 201);
      await res.arrayBuffer();
      assert.equal(res.headers.get('location'), `/v2/${repo}/blobs/${digest}`);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.deepEqual(await readBlob(server.url, repo, digest), data);
    });

    it('takes a monolithic blob streamed without Content-Length', async () => {
      const repo = `alice/${uniqueName()}`;
      const parts = [randomBlob(100), randomBlob(2000), randomBlob(1)];
      const data = Buffer.concat(parts);
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
        method: 'POST',
        body: streamed(parts),
        duplex: 'half',
      } as RequestInit);
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.deepEqual(await readBlob(server.url, repo, sha256(data)), data);
    });

    it('takes an empty monolithic blob', async () => {
      const repo = `alice/${uniqueName()}`;
      const digest = sha256(Buffer.alloc(0));
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bin(Buffer.alloc(0)) });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      const head = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '0');
    });

    it('accepts a sha512 digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const data = randomBlob(300);
      const digest = sha512(data);
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bin(data) });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.deepEqual(await readBlob(server.url, repo, digest), data);
    });

    it('refuses a monolithic blob whose digest does not match: 400 DIGEST_INVALID, nothing stored', async () => {
      const repo = `alice/${uniqueName()}`;
      const data = randomBlob(100);
      const wrong = sha256(randomBlob(100));
      const uploadsDir = join(server.dataDir, 'storage', 'uploads');
      const before = (await readdir(uploadsDir).catch(() => [])).sort();
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: bin(data) });
      await assertOciError(res, 400, 'DIGEST_INVALID');
      for (const digest of [wrong, sha256(data)]) {
        const head = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
        assert.equal(head.status, 404);
      }
      // nothing left behind in the store either
      assert.deepEqual((await readdir(uploadsDir).catch(() => [])).sort(), before);
    });

    it('refuses a malformed digest: 400 DIGEST_INVALID', async () => {
      const repo = `alice/${uniqueName()}`;
      for (const digest of ['sha256:abc', 'sha256:' + 'G'.repeat(64), 'md5:' + 'a'.repeat(32), 'nocolon', 'sha256:' + 'A'.repeat(64)]) {
        const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
          method: 'POST',
          body: bin(Buffer.from('x')),
        });
        await assertOciError(res, 400, 'DIGEST_INVALID');
      }
    });

    it('refuses a monolithic body that disagrees with its Content-Range: 400 SIZE_INVALID', async () => {
      const repo = `alice/${uniqueName()}`;
      const data = randomBlob(10);
      const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${sha256(data)}`, {
        method: 'POST',
        headers: { 'content-range': '0-19' },
        body: bin(data),
      });
      await assertOciError(res, 400, 'SIZE_INVALID');
      const head = await fetch(`${server.url}/v2/${repo}/blobs/${sha256(data)}`, { method: 'HEAD' });
      assert.equal(head.status, 404);
    });
  });

  describe('PATCH, GET status and PUT', () => {
    it('uploads one streamed chunk without Content-Range, then completes with PUT ?digest=', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const parts = [randomBlob(1000), randomBlob(24)];
      const data = Buffer.concat(parts);
      const res = await fetch(upload.url, { method: 'PATCH', body: streamed(parts), duplex: 'half' } as RequestInit);
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), '0-1023');
      assert.equal(res.headers.get('location'), upload.path);
      assert.equal(res.headers.get('docker-upload-uuid'), upload.uuid);

      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT' });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('location'), `/v2/${repo}/blobs/${sha256(data)}`);
      assert.equal(put.headers.get('docker-content-digest'), sha256(data));
      assert.deepEqual(await readBlob(server.url, repo, sha256(data)), data);
    });

    it('uploads one chunk with Content-Length and no Content-Range', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(77);
      const res = await patch(upload.url, data);
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), '0-76');
      await completeAndRead(server.url, upload.url, repo, data);
    });

    it('takes several chunks in order with Content-Range; GET reports the progress', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const chunks = [randomBlob(5), randomBlob(10), randomBlob(1), randomBlob(4096)];
      let offset = 0;
      let location = upload.url;
      for (const chunk of chunks) {
        const res = await patch(location, chunk, { 'content-range': `${offset}-${offset + chunk.length - 1}` });
        await res.arrayBuffer();
        assert.equal(res.status, 202);
        offset += chunk.length;
        assert.equal(res.headers.get('range'), `0-${offset - 1}`);
        location = new URL(res.headers.get('location')!, server.url).toString();

        const st = await status(upload.url);
        assert.equal(st.status, 204);
        assert.equal(st.headers.get('range'), `0-${offset - 1}`);
        assert.equal(st.headers.get('docker-upload-uuid'), upload.uuid);
        assert.equal(st.headers.get('location'), upload.path);
      }
      const data = Buffer.concat(chunks);
      const put = await fetch(withQuery(location, `digest=${sha256(data)}`), { method: 'PUT' });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.deepEqual(await readBlob(server.url, repo, sha256(data)), data);
    });

    it('reads the Content-Range forms `bytes a-b` and `bytes=a-b`', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const a = randomBlob(3);
      const b = randomBlob(4);
      const r1 = await patch(upload.url, a, { 'content-range': 'bytes 0-2' });
      await r1.arrayBuffer();
      assert.equal(r1.status, 202);
      const r2 = await patch(upload.url, b, { 'content-range': 'bytes=3-6' });
      await r2.arrayBuffer();
      assert.equal(r2.status, 202);
      assert.equal(r2.headers.get('range'), '0-6');
    });

    it('answers GET status of a fresh session with 204 and Range 0-0', async () => {
      const upload = await startUpload(server.url, `alice/${uniqueName()}`);
      const res = await fetch(upload.url);
      assert.equal(res.status, 204);
      assert.equal(await res.text(), '');
      assert.equal(res.headers.get('range'), '0-0');
      assert.equal(res.headers.get('location'), upload.path);
    });

    it('refuses an out-of-order chunk with 416 and keeps the session where it was', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const first = randomBlob(10);
      const r1 = await patch(upload.url, first, { 'content-range': '0-9' });
      await r1.arrayBuffer();
      assert.equal(r1.status, 202);

      // a gap
      const gap = await patch(upload.url, randomBlob(5), { 'content-range': '20-24' });
      await assertOciError(gap, 416, 'RANGE_INVALID');
      assert.equal(gap.headers.get('range'), '0-9');
      assert.equal(gap.headers.get('location'), upload.path);
      // an overlap (a resend of the first chunk)
      const overlap = await patch(upload.url, first, { 'content-range': '0-9' });
      await assertOciError(overlap, 416, 'RANGE_INVALID');

      const st = await status(upload.url);
      assert.equal(st.headers.get('range'), '0-9');

      const second = randomBlob(5);
      const r2 = await patch(upload.url, second, { 'content-range': '10-14' });
      await r2.arrayBuffer();
      assert.equal(r2.status, 202);
      const data = Buffer.concat([first, second]);
      await completeAndRead(server.url, upload.url, repo, data);
    });

    it('refuses a malformed Content-Range with 416', async () => {
      const upload = await startUpload(server.url, `alice/${uniqueName()}`);
      for (const range of ['abc', '5-2', '-5', '0-']) {
        const res = await patch(upload.url, randomBlob(3), { 'content-range': range });
        await assertOciError(res, 416, 'RANGE_INVALID');
      }
      const st = await status(upload.url);
      assert.equal(st.headers.get('range'), '0-0');
    });

    it('completes with a final chunk in the PUT body', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const head = randomBlob(500);
      const tail = randomBlob(300);
      const r1 = await patch(upload.url, head);
      await r1.arrayBuffer();
      const data = Buffer.concat([head, tail]);
      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-range': '500-799' },
        body: bin(tail),
      });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), sha256(data));
      assert.deepEqual(await readBlob(server.url, repo, sha256(data)), data);
    });

    it('completes a session that got its whole blob in the PUT (POST then PUT)', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(2048);
      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT', body: bin(data) });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.deepEqual(await readBlob(server.url, repo, sha256(data)), data);
    });

    it('completes an empty upload', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const digest = sha256(Buffer.alloc(0));
      const put = await fetch(withQuery(upload.url, `digest=${digest}`), { method: 'PUT' });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.deepEqual(await readBlob(server.url, repo, digest), Buffer.alloc(0));
    });

    it('ends the session once completed: the upload id is unknown afterwards', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(10);
      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT', body: bin(data) });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      await assertOciError(await fetch(upload.url), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await patch(upload.url, randomBlob(1)), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    it('completes with a sha512 digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(700);
      await (await patch(upload.url, data)).arrayBuffer();
      const put = await fetch(withQuery(upload.url, `digest=${sha512(data)}`), { method: 'PUT' });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('docker-content-digest'), sha512(data));
      assert.deepEqual(await readBlob(server.url, repo, sha512(data)), data);
    });

    it('refuses a wrong digest at PUT: 400 DIGEST_INVALID and the session is gone', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(64);
      await (await patch(upload.url, data)).arrayBuffer();
      const wrong = sha256(randomBlob(64));
      const put = await fetch(withQuery(upload.url, `digest=${wrong}`), { method: 'PUT' });
      await assertOciError(put, 400, 'DIGEST_INVALID');
      await assertOciError(await fetch(upload.url), 404, 'BLOB_UPLOAD_UNKNOWN');
      for (const digest of [wrong, sha256(data)]) {
        const head = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
        assert.equal(head.status, 404);
      }
      await assert.rejects(stat(join(server.dataDir, 'storage', 'uploads', upload.uuid)), { code: 'ENOENT' });
    });

    it('refuses a malformed or missing digest at PUT with 400 DIGEST_INVALID, keeping the session', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(32);
      await (await patch(upload.url, data)).arrayBuffer();
      for (const query of ['digest=sha256:1234', 'digest=sha256%3Azz', 'digest=', '']) {
        const put = await fetch(query ? withQuery(upload.url, query) : upload.url, { method: 'PUT' });
        await assertOciError(put, 400, 'DIGEST_INVALID');
      }
      const st = await status(upload.url);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), '0-31');
      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT' });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
    });

    it('refuses a chunk whose Content-Length disagrees with its Content-Range: 400 SIZE_INVALID, offset unchanged', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const first = randomBlob(8);
      await (await patch(upload.url, first, { 'content-range': '0-7' })).arrayBuffer();

      // Content-Length: 10 but Content-Range says 5 bytes
      const bad = await patch(upload.url, randomBlob(10), { 'content-range': '8-12' });
      await assertOciError(bad, 400, 'SIZE_INVALID');
      const st = await status(upload.url);
      assert.equal(st.headers.get('range'), '0-7');

      // the retry with the right chunk completes with the right digest: the refused bytes are gone
      const second = randomBlob(5);
      const ok = await patch(upload.url, second, { 'content-range': '8-12' });
      await ok.arrayBuffer();
      assert.equal(ok.status, 202);
      const data = Buffer.concat([first, second]);
      await completeAndRead(server.url, upload.url, repo, data);
    });

    it('refuses a PUT whose final chunk disagrees with its Content-Range: 400 SIZE_INVALID', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(6);
      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), {
        method: 'PUT',
        headers: { 'content-range': '0-99' },
        body: bin(data),
      });
      await assertOciError(put, 400, 'SIZE_INVALID');
      const head = await fetch(`${server.url}/v2/${repo}/blobs/${sha256(data)}`, { method: 'HEAD' });
      assert.equal(head.status, 404);
    });

    it('refuses an invalid Content-Length with 400', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      // Node's parser answers a bad Content-Length itself; either way the session is untouched.
      const res = await new Promise<number>((resolve, reject) => {
        const url = new URL(upload.url);
        const req = httpRequest({
          host: url.hostname,
          port: url.port,
          method: 'PATCH',
          path: url.pathname,
          headers: { 'content-length': 'abc', connection: 'close' },
          agent: false,
        });
        req.on('response', (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(res, 400);
      const st = await status(upload.url);
      assert.equal(st.headers.get('range'), '0-0');
    });
    it('refuses a body shorter than its Content-Length (the client half-closes) and keeps the offset', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const first = randomBlob(20);
      await (await patch(upload.url, first)).arrayBuffer();
      const url = new URL(upload.url);
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            `PATCH ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/octet-stream\r\n` +
              'Content-Length: 10\r\nContent-Range: 20-29\r\n\r\nhello',
          );
          setTimeout(() => socket.end(), 50);
        });
        let data = '';
        socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
      assert.match(response, /^HTTP\/1\.1 400 /);
      const st = await status(upload.url);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), '0-19');
      const second = randomBlob(10);
      const ok = await patch(upload.url, second, { 'content-range': '20-29' });
      await ok.arrayBuffer();
      assert.equal(ok.status, 202);
      const data = Buffer.concat([first, second]);
      await completeAndRead(server.url, upload.url, repo, data);
    });
  });

  describe('DELETE and unknown sessions', () => {
    it('cancels with DELETE (204), then the session is 404 BLOB_UPLOAD_UNKNOWN everywhere', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const data = randomBlob(100);
      await (await patch(upload.url, data)).arrayBuffer();
      const del = await fetch(upload.url, { method: 'DELETE' });
      assert.equal(del.status, 204);
      assert.equal(await del.text(), '');

      await assertOciError(await fetch(upload.url), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await patch(upload.url, randomBlob(1)), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await fetch(upload.url, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assert.rejects(stat(join(server.dataDir, 'storage', 'uploads', upload.uuid)), { code: 'ENOENT' });
    });

    it('answers an unknown upload id with 404 BLOB_UPLOAD_UNKNOWN for GET, PATCH, PUT and DELETE', async () => {
      const repo = `alice/${uniqueName()}`;
      const digest = sha256('x');
      for (const id of ['3b241101-e2bb-4255-8caf-4136c566a962', 'not-a-session', 'a'.repeat(200)]) {
        const url = `${server.url}/v2/${repo}/blobs/uploads/${id}`;
        await assertOciError(await fetch(url), 404, 'BLOB_UPLOAD_UNKNOWN');
        await assertOciError(await patch(url, Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN');
        await assertOciError(await fetch(`${url}?digest=${digest}`, { method: 'PUT', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
        await assertOciError(await fetch(url, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
      }
    });

    it('does not let another repository use a session: 404, and the session still works at home', async () => {
      const home = `alice/${uniqueName()}`;
      const other = `bob/${uniqueName()}`;
      const upload = await startUpload(server.url, home);
      const data = randomBlob(40);
      const foreign = `${server.url}/v2/${other}/blobs/uploads/${upload.uuid}`;
      await assertOciError(await fetch(foreign), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await patch(foreign, data), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await fetch(`${foreign}?digest=${sha256(data)}`, { method: 'PUT', body: bin(data) }), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await fetch(foreign, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');

      const st = await status(upload.url);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), '0-0');
      const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT', body: bin(data) });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      const inOther = await fetch(`${server.url}/v2/${other}/blobs/${sha256(data)}`, { method: 'HEAD' });
      assert.equal(inOther.status, 404);
    });
  });

  describe('cross-repository mounts', () => {
    it('mounts a blob from a repository that has it: 201, Location, Docker-Content-Digest', async () => {
      const source = `alice/${uniqueName()}`;
      const target = `bob/${uniqueName()}`;
      const blob = await pushBlob(server.url, source, randomBlob(500));
      const res = await fetch(`${server.url}/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${source}`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v2/${target}/blobs/${blob.digest}`);
      assert.equal(res.headers.get('docker-content-digest'), blob.digest);
      assert.deepEqual(await readBlob(server.url, target, blob.digest), blob.bytes);
    });

    it('starts a session when the source repository lacks the blob: 202 with an upload', async () => {
      const source = `alice/${uniqueName()}`;
      const elsewhere = `carol/${uniqueName()}`;
      const target = `bob/${uniqueName()}`;
      await pushBlob(server.url, source, randomBlob(10)); // the source exists, without this blob
      const blob = await pushBlob(server.url, elsewhere, randomBlob(50)); // stored, but not in source
      const res = await fetch(`${server.url}/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${source}`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const uuid = res.headers.get('docker-upload-uuid');
      assert.match(uuid ?? '', UUID);
      assert.equal(res.headers.get('location'), `/v2/${target}/blobs/uploads/${uuid}`);
      assert.equal(res.headers.get('range'), '0-0');
      const head = await fetch(`${server.url}/v2/${target}/blobs/${blob.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 404);

      // the session is a real one: the client uploads the blob through it
      const put = await fetch(`${server.url}${res.headers.get('location')}?digest=${blob.digest}`, { method: 'PUT', body: bin(blob.bytes) });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.deepEqual(await readBlob(server.url, target, blob.digest), blob.bytes);
    });

    it('starts a session when the source repository does not exist', async () => {
      const blob = await pushBlob(server.url, `alice/${uniqueName()}`, randomBlob(20));
      const res = await fetch(`${server.url}/v2/bob/${uniqueName()}/blobs/uploads/?mount=${blob.digest}&from=nobody/${uniqueName()}`, {
        method: 'POST',
      });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      assert.ok(res.headers.get('docker-upload-uuid'));
    });

    it('mounts without `from` when the blob is stored in any repository: 201', async () => {
      const blob = await pushBlob(server.url, `alice/${uniqueName()}`, randomBlob(64));
      const target = `bob/${uniqueName()}`;
      const res = await fetch(`${server.url}/v2/${target}/blobs/uploads/?mount=${blob.digest}`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v2/${target}/blobs/${blob.digest}`);
      assert.deepEqual(await readBlob(server.url, target, blob.digest), blob.bytes);
    });

    it('starts a session to mount an unknown blob: 202', async () => {
      const target = `bob/${uniqueName()}`;
      const digest = sha256(randomBlob(16));
      for (const query of [`mount=${digest}`, `mount=${digest}&from=alice/${uniqueName()}`]) {
        const res = await fetch(`${server.url}/v2/${target}/blobs/uploads/?${query}`, { method: 'POST' });
        await res.arrayBuffer();
        assert.equal(res.status, 202);
        assert.match(res.headers.get('docker-upload-uuid') ?? '', UUID);
        assert.match(res.headers.get('location') ?? '', new RegExp(`^/v2/${target}/blobs/uploads/`));
      }
    });

    it('refuses a mount of a malformed digest (400 DIGEST_INVALID) or from an invalid name (400 NAME_INVALID)', async () => {
      const target = `bob/${uniqueName()}`;
      await assertOciError(await fetch(`${server.url}/v2/${target}/blobs/uploads/?mount=sha256:nope`, { method: 'POST' }), 400, 'DIGEST_INVALID');
      const digest = sha256('x');
      await assertOciError(
        await fetch(`${server.url}/v2/${target}/blobs/uploads/?mount=${digest}&from=Bad/Name`, { method: 'POST' }),
        400,
        'NAME_INVALID',
      );
    });
  });

  describe('one-part names are official images (library/<name>)', () => {
    it('uploads to `nginx` land in `library/nginx`', async () => {
      const name = uniqueName('nginx');
      const res = await fetch(`${server.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const uuid = res.headers.get('docker-upload-uuid')!;
      assert.equal(res.headers.get('location'), `/v2/library/${name}/blobs/uploads/${uuid}`);

      // the session answers under both spellings
      const short = await status(`${server.url}/v2/${name}/blobs/uploads/${uuid}`);
      assert.equal(short.status, 204);
      const full = await status(`${server.url}/v2/library/${name}/blobs/uploads/${uuid}`);
      assert.equal(full.status, 204);

      const data = randomBlob(33);
      const put = await fetch(`${server.url}/v2/${name}/blobs/uploads/${uuid}?digest=${sha256(data)}`, { method: 'PUT', body: bin(data) });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.equal(put.headers.get('location'), `/v2/library/${name}/blobs/${sha256(data)}`);
      assert.deepEqual(await readBlob(server.url, `library/${name}`, sha256(data)), data);
      assert.deepEqual(await readBlob(server.url, name, sha256(data)), data);
    });

    it('monolithic pushes to `nginx` are readable as `library/nginx`', async () => {
      const name = uniqueName('nginx');
      const data = randomBlob(12);
      const res = await fetch(`${server.url}/v2/${name}/blobs/uploads/?digest=${sha256(data)}`, { method: 'POST', body: bin(data) });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v2/library/${name}/blobs/${sha256(data)}`);
      assert.deepEqual(await readBlob(server.url, `library/${name}`, sha256(data)), data);
    });

    it('mounts with `from=nginx` read from `library/nginx`', async () => {
      const name = uniqueName('nginx');
      const blob = await pushBlob(server.url, `library/${name}`, randomBlob(90));
      const target = `bob/${uniqueName()}`;
      const res = await fetch(`${server.url}/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${name}`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      assert.deepEqual(await readBlob(server.url, target, blob.digest), blob.bytes);

      // and `from=library/<name>` into the one-part spelling of another official image
      const other = uniqueName('redis');
      const res2 = await fetch(`${server.url}/v2/${other}/blobs/uploads/?mount=${blob.digest}&from=library/${name}`, { method: 'POST' });
      await res2.arrayBuffer();
      assert.equal(res2.status, 201);
      assert.equal(res2.headers.get('location'), `/v2/library/${other}/blobs/${blob.digest}`);
    });

    it('lists `library/nginx` in the catalog, never `nginx`', async () => {
      const name = uniqueName('nginx');
      await pushBlob(server.url, name, randomBlob(5));
      const res = await fetch(`${server.url}/v2/_catalog?n=10000`);
      const body = (await res.json()) as { repositories: string[] };
      assert.ok(body.repositories.includes(`library/${name}`), JSON.stringify(body));
      assert.ok(!body.repositories.includes(name));
    });
  });

  describe('interrupted PATCH', () => {
    it('keeps the old offset and a retried chunk completes with the right digest', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const first = randomBlob(1000);
      const r1 = await patch(upload.url, first, { 'content-range': '0-999' });
      await r1.arrayBuffer();
      assert.equal(r1.status, 202);

      const second = randomBlob(200_000);
      const file = join(server.dataDir, 'storage', 'uploads', upload.uuid);
      // declare the whole chunk, send half, wait until the server has stored it, then abort
      await new Promise<void>((resolve, reject) => {
        const url = new URL(upload.url);
        const req = httpRequest({
          host: url.hostname,
          port: url.port,
          method: 'PATCH',
          path: url.pathname,
          headers: { 'content-length': second.length, 'content-range': `1000-${1000 + second.length - 1}`, 'content-type': 'application/octet-stream' },
          agent: false,
        });
        req.on('error', () => {}); // the abort below
        req.on('response', () => reject(new Error('the server answered an incomplete chunk')));
        req.write(second.subarray(0, 100_000));
        const deadline = Date.now() + 5000;
        const poll = async () => {
          const size = await stat(file).then((s) => s.size, () => 0);
          if (size >= 1000 + 100_000) {
            req.destroy();
            resolve();
          } else if (Date.now() > deadline) {
            req.destroy();
            reject(new Error(`the server never stored the partial chunk (file holds ${size} bytes)`));
          } else {
            setTimeout(poll, 10);
          }
        };
        void poll();
      });

      // the session is still at 1000 bytes; retry (the server may still be unwinding the aborted request)
      let retry: Response | undefined;
      for (let attempt = 0; attempt < 100; attempt++) {
        const st = await status(upload.url);
        assert.equal(st.status, 204);
        assert.equal(st.headers.get('range'), '0-999');
        retry = await patch(upload.url, second, { 'content-range': `1000-${1000 + second.length - 1}` });
        if (retry.status !== 409) break;
        await retry.arrayBuffer();
        await new Promise((r) => setTimeout(r, 20));
      }
      await retry!.arrayBuffer();
      assert.equal(retry!.status, 202);
      assert.equal(retry!.headers.get('range'), `0-${1000 + second.length - 1}`);

      const data = Buffer.concat([first, second]);
      await completeAndRead(server.url, upload.url, repo, data);
    });
  });
});

describe('upload sessions across a restart', () => {
  it('continue PATCH and PUT on a new server over the same data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pier-restart-'));
    try {
      const repo = `alice/${uniqueName()}`;
      const first = randomBlob(3000);
      const second = randomBlob(5000);
      const third = randomBlob(10);

      const one = await startTestServer({}, { dataDir });
      let uploadPath: string;
      try {
        const upload = await startUpload(one.url, repo);
        uploadPath = upload.path;
        const r1 = await patch(upload.url, first, { 'content-range': '0-2999' });
        await r1.arrayBuffer();
        assert.equal(r1.status, 202);
      } finally {
        await one.stop();
      }

      const two = await startTestServer({}, { dataDir });
      try {
        const url = `${two.url}${uploadPath}`;
        const st = await status(url);
        assert.equal(st.status, 204);
        assert.equal(st.headers.get('range'), '0-2999');
        const r2 = await patch(url, second, { 'content-range': '3000-7999' });
        await r2.arrayBuffer();
        assert.equal(r2.status, 202);
        assert.equal(r2.headers.get('range'), '0-7999');
      } finally {
        await two.stop();
      }

      // and once more, completing with a final chunk in the PUT
      const three = await startTestServer({}, { dataDir });
      try {
        const data = Buffer.concat([first, second, third]);
        const put = await fetch(`${three.url}${uploadPath}?digest=${sha256(data)}`, { method: 'PUT', body: bin(third) });
        await put.arrayBuffer();
        assert.equal(put.status, 201);
        assert.deepEqual(await readBlob(three.url, repo, sha256(data)), data);
      } finally {
        await three.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('upload sessions across replicas', () => {
  it('alternate chunks between two servers over the same data and complete with the right digest', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pier-replicas-'));
    const a = await startTestServer({}, { dataDir });
    const b = await startTestServer({}, { dataDir });
    try {
      const repo = `alice/${uniqueName()}`;
      const chunks = [randomBlob(1000), randomBlob(2000), randomBlob(3000), randomBlob(4000)];
      const upload = await startUpload(a.url, repo);
      let offset = 0;
      for (const [i, chunk] of chunks.entries()) {
        // a, b, a, b: each server must notice that the other moved the session on
        const base = i % 2 === 0 ? a.url : b.url;
        const res = await patch(`${base}${upload.path}`, chunk, { 'content-range': `${offset}-${offset + chunk.length - 1}` });
        await res.arrayBuffer();
        assert.equal(res.status, 202, `chunk ${i}`);
        offset += chunk.length;
        assert.equal(res.headers.get('range'), `0-${offset - 1}`);
      }
      const data = Buffer.concat(chunks);
      const put = await fetch(`${a.url}${upload.path}?digest=${sha256(data)}`, { method: 'PUT' });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      assert.deepEqual(await readBlob(b.url, repo, sha256(data)), data);
    } finally {
      await a.stop();
      await b.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('expired upload sessions', () => {
  const HOUR = 3_600_000;
  let now = Date.now();
  const clock = { now: () => now };
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ 'uploads.ttl': '1h', 'uploads.sweepInterval': '1h' }, { clock });
  });
  after(() => server.stop());

  it('are swept after the TTL: 404 afterwards and no bytes left in storage/uploads', async () => {
    const repo = `alice/${uniqueName()}`;
    const idle = await startUpload(server.url, repo);
    await (await patch(idle.url, randomBlob(100))).arrayBuffer();
    const untouched = await startUpload(server.url, repo);
    const uploadsDir = join(server.dataDir, 'storage', 'uploads');
    assert.deepEqual((await readdir(uploadsDir)).sort(), [idle.uuid, untouched.uuid].sort());

    // not yet expired
    now += HOUR / 2;
    assert.equal(await server.registry.uploads.sweepExpired(), 0);
    assert.equal((await status(idle.url)).status, 204);

    now += HOUR;
    assert.equal(await server.registry.uploads.sweepExpired(), 2);
    for (const upload of [idle, untouched]) {
      await assertOciError(await fetch(upload.url), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await patch(upload.url, randomBlob(1)), 404, 'BLOB_UPLOAD_UNKNOWN');
      await assertOciError(await fetch(withQuery(upload.url, `digest=${sha256('x')}`), { method: 'PUT', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
    assert.deepEqual(await readdir(uploadsDir), []);
  });

  it('counts idleness from the last chunk, not from the start', async () => {
    const repo = `alice/${uniqueName()}`;
    const upload = await startUpload(server.url, repo);
    const first = randomBlob(10);
    now += (HOUR * 3) / 4;
    await (await patch(upload.url, first)).arrayBuffer();
    now += (HOUR * 3) / 4; // 1.5h after the start, 45 minutes after the last chunk
    assert.equal(await server.registry.uploads.sweepExpired(), 0);
    const st = await status(upload.url);
    assert.equal(st.status, 204);
    assert.equal(st.headers.get('range'), '0-9');
    const put = await fetch(withQuery(upload.url, `digest=${sha256(first)}`), { method: 'PUT' });
    await put.arrayBuffer();
    assert.equal(put.status, 201);
  });

  it('removes upload files that no session knows', async () => {
    const uploadsDir = join(server.dataDir, 'storage', 'uploads');
    const orphan = '6f1c2b7e-0000-4000-8000-000000000000';
    await writeFile(join(uploadsDir, orphan), randomBlob(10));
    const live = await startUpload(server.url, `alice/${uniqueName()}`);
    now += HOUR * 2;
    // both the orphan file and the (now idle) session go
    assert.equal(await server.registry.uploads.sweepExpired(), 2);
    assert.deepEqual(await readdir(uploadsDir), []);
    await assertOciError(await fetch(live.url), 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});
