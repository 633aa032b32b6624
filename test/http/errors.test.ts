import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertOciError, pushBlob, randomBlob, rawRequest, sha256, startUpload, type RawResponse } from '../support/oci.js';
import { pushImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DIGEST = sha256('some content');
const UPLOAD_ID = '0b1c2d3e-4f50-4617-8899-aabbccddeeff';

/** Every route with a name, and the methods it answers. */
const ROUTES: Array<{ kind: string; path: (name: string) => string; methods: string[] }> = [
  { kind: 'tags', path: (n) => `/v2/${n}/tags/list`, methods: ['GET'] },
  { kind: 'manifest', path: (n) => `/v2/${n}/manifests/latest`, methods: ['GET', 'HEAD', 'PUT', 'DELETE'] },
  { kind: 'blob', path: (n) => `/v2/${n}/blobs/${DIGEST}`, methods: ['GET', 'HEAD', 'DELETE'] },
  { kind: 'uploads', path: (n) => `/v2/${n}/blobs/uploads/`, methods: ['POST'] },
  { kind: 'upload', path: (n) => `/v2/${n}/blobs/uploads/${UPLOAD_ID}`, methods: ['GET', 'PATCH', 'PUT', 'DELETE'] },
  { kind: 'referrers', path: (n) => `/v2/${n}/referrers/${DIGEST}`, methods: ['GET'] },
];

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function send(server: TestServer, method: string, path: string, body?: Buffer | string): Promise<RawResponse> {
  const withBody = body !== undefined || method === 'PUT' || method === 'PATCH' || method === 'POST';
  const payload = body ?? (withBody ? '{}' : undefined);
  return rawRequest(server.url, {
    method,
    path,
    headers: payload === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(payload) },
    body: payload,
  });
}

describe('errors on every route', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    // something real to stand next to, so that a bad name is not answered by an empty registry
    await pushImage(server.url, 'alice/app', 'latest');
  });
  after(() => server.stop());

  describe('invalid repository names: 400 NAME_INVALID', () => {
    const names = [
      'alice/../app', // dot-dot, sent raw (fetch would resolve it)
      '../alice/app',
      'alice/app/..',
      'alice/./app',
      '%2e%2e/alice', // encoded dot-dot
      'alice/%2e%2e/app',
      'Alice/app', // uppercase
      'alice/App',
      'ALICE',
      'alice//app', // empty component
      '/alice',
      'alice/app-', // separators at the ends
      '-alice/app',
      'alice/_app',
      'alice/app.',
      'alice/a%20b',
      `${'a'.repeat(128)}/${'b'.repeat(127)}`, // 256 characters
      'x'.repeat(250), // a one-part name whose library/ form is longer than 255
    ];
    for (const route of ROUTES) {
      for (const method of route.methods) {
        it(`${method} ${route.kind}`, async () => {
          for (const name of names) {
            const res = await send(server, method, route.path(name));
            await assertOciError(res, 400, 'NAME_INVALID', { head: method === 'HEAD' });
          }
        });
      }
    }

    it('accepts the longest valid name and a one-part name of 247 characters', async () => {
      const long = `${'a'.repeat(127)}/${'b'.repeat(127)}`; // 255
      const res = await fetch(`${server.url}/v2/${long}/blobs/uploads/`, { method: 'POST' });
      await res.arrayBuffer();
      assert.equal(res.status, 202);
      const official = 'c'.repeat(247); // library/ + 247 = 255
      const res2 = await fetch(`${server.url}/v2/${official}/blobs/uploads/`, { method: 'POST' });
      await res2.arrayBuffer();
      assert.equal(res2.status, 202);
      assert.match(res2.headers.get('location') ?? '', new RegExp(`^/v2/library/${official}/blobs/uploads/`));
    });

    it('accepts the separators the spec allows inside components', async () => {
      for (const name of ['a.b/c_d', 'a__b/c---d', 'a-b.c/d/e/f', '0/1']) {
        const res = await fetch(`${server.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
        await res.arrayBuffer();
        assert.equal(res.status, 202, name);
      }
    });

    it('checks the name before reading a manifest body', async () => {
      const body = randomBlob(2 * 1024 * 1024);
      const res = await rawRequest(server.url, {
        method: 'PUT',
        path: '/v2/Alice/App/manifests/latest',
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': body.length },
        body,
      });
      await assertOciError(res, 400, 'NAME_INVALID');
    });
  });

  describe('unknown routes: 404 with the OCI envelope', () => {
    const paths = [
      '/v2/alice/app/nothing/here',
      '/v2/alice/app/tags/other',
      '/v2/alice/app/tags/list/',
      '/v2/alice',
      '/v2/alice/app',
      '/v2/alice/app/blobs',
      '/v2/alice/app/uploads/x',
      '/v2/_catalog/extra',
      '/v2/alice/app/_catalog',
    ];
    for (const path of paths) {
      it(`GET ${path}`, async () => {
        await assertOciError(await rawRequest(server.url, { path }), 404, 'UNSUPPORTED');
        await assertOciError(await rawRequest(server.url, { method: 'HEAD', path }), 404, 'UNSUPPORTED', { head: true });
        await assertOciError(await send(server, 'POST', path), 404, 'UNSUPPORTED');
      });
    }

    it('answers paths that only start like /v2 and unknown methods with the envelope too', async () => {
      await assertOciError(await rawRequest(server.url, { path: '/v2x' }), 404, 'UNSUPPORTED', { apiVersion: false });
      await assertOciError(await rawRequest(server.url, { path: '/v2_catalog' }), 404, 'UNSUPPORTED', { apiVersion: false });
      for (const method of ['PROPFIND', 'TRACE']) {
        const res = await rawRequest(server.url, { method, path: '/v2/alice/app/tags/list' });
        assert.equal(res.headers['allow'], 'GET');
        await assertOciError(res, 405, 'UNSUPPORTED');
        await assertOciError(await rawRequest(server.url, { method, path: '/v2/alice/app/nothing/here' }), 404, 'UNSUPPORTED');
      }
    });

    it('answers a path that is not valid URL encoding with 400 and the envelope', async () => {
      for (const path of ['/v2/%zz/tags/list', '/v2/alice/app/manifests/%E0%A4%A', '/v2/alice/app/blobs/sha256:%GG']) {
        await assertOciError(await rawRequest(server.url, { path }), 400, 'UNSUPPORTED');
      }
    });

    it('leaves other paths to the rest of the app (problem+json, not the OCI envelope)', async () => {
      // (a path outside the APIs is the web UI's: test/http/ui.test.ts)
      const res = await rawRequest(server.url, { path: '/v1/nothing' });
      assert.equal(res.status, 404);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    });
  });

  describe('unsupported methods: 405 with Allow', () => {
    const cases: Array<{ path: string; allow: string[] }> = [
      { path: '/v2/', allow: ['GET', 'HEAD'] },
      { path: '/v2/_catalog', allow: ['GET'] },
      ...ROUTES.map((route) => ({ path: route.path('alice/app'), allow: route.methods })),
    ];
    for (const { path, allow } of cases) {
      const refused = ALL_METHODS.filter((m) => !allow.includes(m));
      it(`${refused.join(', ')} ${path}`, async () => {
        for (const method of refused) {
          const res = await send(server, method, path);
          await assertOciError(res, 405, 'UNSUPPORTED', { head: method === 'HEAD' });
          const header = res.headers.allow;
          assert.ok(header, `Allow header for ${method} ${path}`);
          assert.deepEqual(
            String(header)
              .split(/,\s*/)
              .sort(),
            [...allow].sort(),
            `${method} ${path}`,
          );
        }
      });
    }

    it('keeps the connection usable after refusing a request with a body', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const url = new URL(server.url);
      const once = (method: string, path: string, body?: Buffer) =>
        new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
          const req = httpRequest({
            host: url.hostname,
            port: url.port,
            method,
            path,
            agent,
            headers: body ? { 'content-length': body.length } : {},
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
          });
          req.on('error', reject);
          req.end(body);
        });
      try {
        const first = await once('PATCH', '/v2/alice/app/manifests/latest', randomBlob(256 * 1024));
        assert.equal(first.status, 405);
        const second = await once('GET', '/v2/');
        assert.equal(second.status, 200);
        assert.equal(second.reused, true, 'the second request went over the same connection');
        const third = await once('POST', `/v2/alice/app/blobs/uploads/?mount=${DIGEST}`, randomBlob(64 * 1024));
        assert.equal(third.status, 202);
        const fourth = await once('GET', '/v2/');
        assert.equal(fourth.status, 200);
        assert.equal(fourth.reused, true);
      } finally {
        agent.destroy();
      }
    });
  });

  describe('every error is an OCI envelope with a JSON content type', () => {
    it('across the error codes the API produces', async () => {
      const repo = 'alice/app';
      const upload = await startUpload(server.url, repo);
      const blob = await pushBlob(server.url, repo, randomBlob(10));
      const cases: Array<[Promise<Response>, number, string]> = [
        [fetch(`${server.url}/v2/${repo}/blobs/${DIGEST}`), 404, 'BLOB_UNKNOWN'],
        [fetch(`${server.url}/v2/${repo}/blobs/sha256:bad`), 400, 'DIGEST_INVALID'],
        [fetch(`${server.url}/v2/${repo}/blobs/${blob.digest}`, { headers: { range: 'bytes=50-60' } }), 416, 'RANGE_INVALID'],
        [fetch(`${server.url}/v2/${repo}/blobs/uploads/${UPLOAD_ID}`), 404, 'BLOB_UPLOAD_UNKNOWN'],
        [fetch(upload.url, { method: 'PATCH', headers: { 'content-range': '5-6' }, body: 'ab' }), 416, 'RANGE_INVALID'],
        [fetch(`${upload.url}?digest=${DIGEST}`, { method: 'PUT', headers: { 'content-range': '0-9' }, body: 'ab' }), 400, 'SIZE_INVALID'],
        [fetch(`${server.url}/v2/${repo}/manifests/missing`), 404, 'MANIFEST_UNKNOWN'],
        [fetch(`${server.url}/v2/${repo}/manifests/latest`, { method: 'PUT', body: '{' }), 400, 'MANIFEST_INVALID'],
        [fetch(`${server.url}/v2/${repo}/manifests/-bad`, { method: 'PUT', body: '{}' }), 400, 'TAG_INVALID'],
        [fetch(`${server.url}/v2/nobody/here/tags/list`), 404, 'NAME_UNKNOWN'],
        [fetch(`${server.url}/v2/${repo}/tags/list?n=x`), 400, 'PAGINATION_NUMBER_INVALID'],
        [fetch(`${server.url}/v2/Bad/tags/list`), 400, 'NAME_INVALID'],
        [fetch(`${server.url}/v2/${repo}/nowhere`), 404, 'UNSUPPORTED'],
        [fetch(`${server.url}/v2/_catalog`, { method: 'DELETE' }), 405, 'UNSUPPORTED'],
      ];
      for (const [pending, status, code] of cases) {
        await assertOciError(await pending, status, code);
      }
    });
  });
});
