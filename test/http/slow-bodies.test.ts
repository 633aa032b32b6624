// Slow bodies time out: a body that drips below the minimum rate loses its connection (and an
// upload's claim with it), sign-in bodies have a short deadline in all, headers have theirs; a
// body at a fair rate is not touched. Real sockets dripping bytes, with short timeouts set through
// the settings. On SQLite and PostgreSQL (upload claims live in the database).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { randomBlob, sha256, startUpload, uniqueName } from '../support/oci.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';
import { socketRequest } from '../support/socket-client.js';

const settings = {
  'http.bodyMinRate': 2000, // bytes per second
  'http.bodyRateWindow': '400ms',
  'http.signInBodyTimeout': '600ms',
  'http.headersTimeout': '800ms',
};

for (const { backend, options } of await testBackends()) {
  describe(`slow bodies (${backend})`, options, () => {
    let server: TestServer;
    let token: TestServer;
    before(async () => {
      server = await startTestServer(settings, { backend });
      token = await startTestServer({ ...settings, 'auth.mode': 'token' }, { backend });
    });
    after(async () => {
      await server?.stop();
      await token?.stop();
    });

    it('a PATCH dripping below the rate is cut with 408 in the envelope, and its upload can continue at once', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const slow = await socketRequest(server.url, {
        method: 'PATCH',
        path: upload.path,
        headers: { 'content-type': 'application/octet-stream' },
        total: 100_000,
        chunkSize: 20,
        delayMs: 50, // 400 bytes per second
        timeoutMs: 10_000,
      });
      assert.equal(slow.status, 408, slow.body);
      assert.equal(JSON.parse(slow.body).errors[0].code, 'BLOB_UPLOAD_INVALID');
      assert.match(JSON.parse(slow.body).errors[0].message, /slower than 2000 bytes per second/);
      assert.ok(slow.elapsedMs < 3_000, `cut after ${slow.elapsedMs} ms`);
      assert.ok(slow.sent < 100_000);
      // the claim goes with the connection, released as the aborted write unwinds, moments after
      // the 408 left: a PATCH sent at once waits for that, rather than answering 409
      const data = randomBlob(50_000);
      const patch = await fetch(upload.url, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(data) });
      assert.equal(patch.status, 202, await patch.text());
      const put = await fetch(`${new URL(patch.headers.get('location')!, server.url)}?digest=${sha256(data)}`, { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
    });

    it('a body at a fair rate, slower than the window, is not touched', async () => {
      const repo = `alice/${uniqueName()}`;
      const upload = await startUpload(server.url, repo);
      const steady = await socketRequest(server.url, {
        method: 'PATCH',
        path: upload.path,
        headers: { 'content-type': 'application/octet-stream' },
        total: 12_000,
        chunkSize: 400,
        delayMs: 50, // 8,000 bytes per second, over 1.5 s
        timeoutMs: 10_000,
      });
      assert.equal(steady.status, 202, steady.body);
      assert.equal(steady.socketError, undefined);
    });

    it('/token: twenty connections dripping a sign-in body are all answered 408 and closed within the deadline', async () => {
      const started = Date.now();
      const drips = await Promise.all(
        Array.from({ length: 20 }, () =>
          socketRequest(token.url, {
            method: 'POST',
            path: '/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            total: 10_000,
            chunkSize: 1,
            delayMs: 100,
            timeoutMs: 10_000,
          }),
        ),
      );
      for (const drip of drips) {
        assert.equal(drip.status, 408, drip.body);
        assert.equal(drip.headers['content-type'], 'application/problem+json');
        assert.match(JSON.parse(drip.body).detail, /did not arrive within 600 ms/);
        assert.ok(drip.closed || drip.socketError !== undefined, 'the connection is closed');
      }
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    });

    it('/api/v1/users/login: a dripping body gets the same short deadline', async () => {
      const drip = await socketRequest(token.url, {
        method: 'POST',
        path: '/api/v1/users/login',
        headers: { 'content-type': 'application/json' },
        total: 5_000,
        chunkSize: 1,
        delayMs: 100,
        timeoutMs: 10_000,
      });
      assert.equal(drip.status, 408, drip.body);
      assert.ok(drip.elapsedMs < 4_000, `cut after ${drip.elapsedMs} ms`);
    });

    it('headers that never end: the connection is closed after headersTimeout', async () => {
      const url = new URL(server.url);
      const started = Date.now();
      const outcome = await new Promise<{ answer: string; ms: number }>((resolve) => {
        const socket = connect(Number(url.port), url.hostname);
        let answer = '';
        const drip = setInterval(() => socket.write('x-slow: 1\r\n'), 100);
        socket.on('connect', () => socket.write('GET /v2/ HTTP/1.1\r\nhost: pier\r\n'));
        socket.on('data', (bytes) => (answer += bytes.toString()));
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(drip);
          resolve({ answer, ms: Date.now() - started });
        });
        setTimeout(() => socket.destroy(), 10_000);
      });
      assert.ok(outcome.ms < 5_000, `closed after ${outcome.ms} ms`);
      assert.match(outcome.answer, /^HTTP\/1\.1 408/);
    });
  });
}
