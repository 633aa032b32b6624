// The web UI as Pier serves it: built files, index.html for the app's routes (never for an API's),
// cache lifetimes, compression, and the security headers, over HTTP.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { CONTENT_SECURITY_POLICY, DEFAULT_UI_DIR, firstLoadAssets, uiBuilt } from '../../src/http/ui.js';
import { inCi } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-Ab12Cd34.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = `console.log(${JSON.stringify('pier '.repeat(2000))});`;

function expectUiHeaders(res: Response): void {
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.equal(csp, CONTENT_SECURITY_POLICY);
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
  assert.deepEqual(directives.get('default-src'), ["'self'"]);
  assert.deepEqual(directives.get('script-src'), ["'self'"], 'scripts from Pier only: no inline script, no eval');
  assert.deepEqual(directives.get('img-src'), ["'self'", 'data:']);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'same-origin');
}

describe('web UI: serving', () => {
  let server: TestServer;
  let app: FastifyInstance;
  let url: string;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-ui-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'index-Ab12Cd34.js'), SCRIPT);
    await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    server = await startTestServer();
    // the same app as the server's, over a fixture build
    app = buildApp({ registry: server.registry, hub: server.hub, logger: server.logger, clock: { now: () => Date.now() }, ui: { dir } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(async () => {
    await app.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers every UI route with index.html, not cached, with the security headers', async () => {
    for (const path of ['/', '/signin', '/settings/tokens', '/orgs/acme/teams/dev', '/r/alice/app', '/alice/my.app', '/search?q=nginx', '/index.html']) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8', path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      expectUiHeaders(res);
      assert.equal(await res.text(), INDEX, path);
    }
  });

  it('serves hashed assets for a year (immutable), with their type and the headers', async () => {
    const res = await fetch(`${url}/assets/index-Ab12Cd34.js`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(res.headers.get('content-encoding'), null);
    expectUiHeaders(res);
    assert.equal(await res.text(), SCRIPT);
  });

  it('answers a missing asset with 404, never with the page', async () => {
    const res = await fetch(`${url}/assets/index-Old0000.js`);
    assert.equal(res.status, 404);
    assert.doesNotMatch(res.headers.get('content-type') ?? '', /html|javascript/);
  });

  it('serves files that are not hashed as revalidated (no-cache)', async () => {
    const res = await fetch(`${url}/favicon.svg`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
  });

  it('never answers an API path with the UI', async () => {
    const paths = ['/v2/nothing/here', '/v2', '/v2x', '/api', '/api/v1/nothing', '/api/docs/x', '/token', '/token/x', '/v1/nothing', '/v1', '/healthz/x', '/readyz/x', '/metrics', '/metrics/x'];
    for (const path of paths) {
      const res = await fetch(`${url}${path}`);
      const type = res.headers.get('content-type') ?? '';
      assert.doesNotMatch(type, /html/, `${path} answered ${res.status} ${type}`);
      assert.equal(res.headers.get('content-security-policy'), null, path);
      if (path.startsWith('/v2') && path !== '/v2') {
        assert.equal(res.status, 404);
        assert.match(type, /^application\/json/);
        assert.equal(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNSUPPORTED');
      } else if (path !== '/v2') {
        assert.equal(res.status, 404, path);
        assert.match(type, /^application\/problem\+json/, path);
      }
    }
    // the APIs themselves still answer as before
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${url}/v2/`)).headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('compresses text with brotli or gzip, as the client accepts', async () => {
    const { request } = await import('node:http');
    const get = (path: string, encoding: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        request(`${url}${path}`, { headers: { 'accept-encoding': encoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      });
    const br = await get('/assets/index-Ab12Cd34.js', 'gzip, deflate, br');
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['vary'], 'accept-encoding');
    assert.ok(br.body.length < SCRIPT.length / 10);
    assert.equal(brotliDecompressSync(br.body).toString(), SCRIPT);
    const gz = await get('/assets/index-Ab12Cd34.js', 'gzip');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), SCRIPT);
    const refused = await get('/assets/index-Ab12Cd34.js', 'br;q=0, gzip;q=0');
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.equal(refused.body.toString(), SCRIPT);
    const page = await get('/settings', 'br');
    assert.equal(page.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(page.body).toString(), INDEX);
  });

  it('answers a revalidation with 304 when nothing changed', async () => {
    const first = await fetch(`${url}/signin`);
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${url}/orgs`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    expectUiHeaders(again);
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await fetch(`${url}/settings`, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(INDEX)));
    assert.equal(await res.text(), '');
  });

  it('does not answer other methods with the page', async () => {
    const res = await fetch(`${url}/settings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });
});

// npm install builds the UI (prepare): under CI a missing build fails, locally it is skipped with the reason
const NOT_BUILT = 'dist/web is not built: run npm run build';
describe('web UI: the build npm install makes', { skip: uiBuilt(DEFAULT_UI_DIR) || inCi ? undefined : NOT_BUILT }, () => {
  let server: TestServer;
  before(async () => {
    assert.ok(uiBuilt(DEFAULT_UI_DIR), NOT_BUILT);
    server = await startTestServer();
  });
  after(() => server.stop());

  it('is served by the server itself, and every script and style of the first load exists, immutable', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    expectUiHeaders(page);
    const html = await page.text();
    assert.match(html, /<div id="root"><\/div>/);
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script in index.html');
    const { scripts, styles } = firstLoadAssets(DEFAULT_UI_DIR);
    assert.ok(scripts.length > 0);
    for (const asset of [...scripts, ...styles]) {
      const res = await fetch(`${server.url}${asset}`);
      assert.equal(res.status, 200, asset);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', asset);
    }
  });

  it('keeps the first load\'s JavaScript under 250 KB compressed', () => {
    const { scripts } = firstLoadAssets(DEFAULT_UI_DIR);
    let raw = 0;
    let gzip = 0;
    let brotli = 0;
    for (const script of scripts) {
      const body = readFileSync(join(DEFAULT_UI_DIR, script));
      raw += body.length;
      gzip += gzipSync(body, { level: 9 }).length;
      brotli += brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9 } }).length; // as Pier serves it
    }
    console.log(`# first load JavaScript: ${scripts.length} file(s), ${(raw / 1000).toFixed(1)} kB raw, ${(gzip / 1000).toFixed(1)} kB gzip, ${(brotli / 1000).toFixed(1)} kB brotli`);
    assert.ok(gzip < 250_000, `${gzip} bytes gzipped`);
  });
});
