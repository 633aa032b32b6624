/** Regressions for ways a failed or concurrent request could have corrupted what is stored. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { bin, bodyOf, pushBlob, randomBlob, sha256, startUpload, uniqueName, withQuery } from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('upload safety', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const patch = (url: string, body: Buffer, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'PATCH', body: bin(body), headers: { 'content-type': 'application/octet-stream', ...headers } });

  it('never commits the bytes of a refused chunk, nor replaces a stored blob', async () => {
    const victim = `library/${uniqueName()}`;
    const good = Buffer.from('hello world');
    const stored = await pushBlob(server.url, victim, good);

    const attacker = `eve/${uniqueName()}`;
    const upload = await startUpload(server.url, attacker);
    assert.equal((await patch(upload.url, good, { 'content-range': '0-10' })).status, 202);
    // a chunk whose Content-Range promises more than it sends: refused, but its bytes hit the disk
    const evil = await patch(upload.url, Buffer.from('EVIL!!'), { 'content-range': '11-99' });
    assert.equal(evil.status, 400);
    const put = await fetch(withQuery(upload.url, `digest=${stored.digest}`), { method: 'PUT' });
    assert.equal(put.status, 201, 'the session holds exactly the verified 11 bytes');

    assert.equal(await server.store.stat(stored.digest as never), 11, 'the stored blob is exactly its content');
    for (const repo of [victim, attacker]) {
      const res = await fetch(`${server.url}/v2/${repo}/blobs/${stored.digest}`);
      assert.equal(res.headers.get('content-length'), '11');
      assert.deepEqual(await bodyOf(res), good);
    }
  });

  it('releases an upload whose client went away mid-chunk, so the retry succeeds', async () => {
    const repo = `alice/${uniqueName()}`;
    const upload = await startUpload(server.url, repo);
    const data = randomBlob(64 * 1024);
    await new Promise<void>((resolve) => {
      const url = new URL(upload.url);
      const req = request({ host: url.hostname, port: url.port, method: 'PATCH', path: url.pathname, headers: { 'content-length': String(data.length) } });
      req.on('error', () => resolve());
      req.write(data.subarray(0, 1000), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 100));
    });
    // the server notices the disconnect and releases its claim on the session
    let retry: Response | undefined;
    for (let i = 0; i < 50; i++) {
      retry = await patch(upload.url, data);
      if (retry.status !== 409) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(retry!.status, 202);
    assert.equal(retry!.headers.get('range'), `0-${data.length - 1}`);
    const put = await fetch(withQuery(upload.url, `digest=${sha256(data)}`), { method: 'PUT' });
    assert.equal(put.status, 201);
  });

  it('lets one writer at a time write a session: a concurrent chunk answers 409', async () => {
    const repo = `alice/${uniqueName()}`;
    const upload = await startUpload(server.url, repo);
    const url = new URL(upload.url);
    const first = randomBlob(1000);
    // hold the first PATCH open mid-body
    let release!: () => void;
    const firstDone = new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'PATCH', path: url.pathname, headers: { 'content-length': String(first.length) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write(first.subarray(0, 500));
      release = () => req.end(first.subarray(500));
    });
    await new Promise((r) => setTimeout(r, 100));
    const second = await patch(upload.url, randomBlob(10));
    assert.equal(second.status, 409);
    release();
    assert.equal(await firstDone, 202);
    const put = await fetch(withQuery(upload.url, `digest=${sha256(first)}`), { method: 'PUT' });
    assert.equal(put.status, 201);
  });

  it('answers a blob whose bytes are gone with 404 and no success headers', async () => {
    const repo = `alice/${uniqueName()}`;
    const blob = await pushBlob(server.url, repo, randomBlob(100));
    await server.store.delete(blob.digest as never);
    const res = await fetch(`${server.url}/v2/${repo}/blobs/${blob.digest}`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('docker-content-digest'), null);
    assert.equal(res.headers.get('cache-control'), null);
  });
});
