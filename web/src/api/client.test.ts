// The API client against a real Pier (problem+json errors) and against a recording server (headers).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { ApiError, createClient, csrfToken } from './client';

describe('API client', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
  });
  after(() => server.stop());

  it('answers JSON, and turns problem+json into an ApiError that carries the problem', async () => {
    const api = createClient((input, init) => fetch(`${server.url}${input}`, init), () => '');
    const plans = await api<{ results: Array<{ name: string }> }>('/plans');
    assert.ok(plans.results.some((p) => p.name === 'free'));
    await assert.rejects(api('/orgs/nobody-here'), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 404);
      assert.match(error.problem.detail, /no organisation "nobody-here"/);
      assert.equal(error.kind, 'not-found'); // the problem's type: https://pier.dev/problems/not-found
      return true;
    });
    await assert.rejects(api('/users', { method: 'POST', json: { username: 'x' } }), (error: unknown) => error instanceof ApiError && error.status === 400 && /password/.test(error.message));
  });

  it('says the server could not be reached, as an ApiError too', async () => {
    const api = createClient((input, init) => fetch(`http://127.0.0.1:1${input}`, init), () => '');
    await assert.rejects(api('/plans'), (error: unknown) => error instanceof ApiError && error.kind === 'network' && error.status === 0);
  });

  it('sends the pier_csrf cookie as X-CSRF-Token on state-changing requests only', async () => {
    const seen: Array<{ method: string; headers: IncomingHttpHeaders; body: string }> = [];
    const recorder = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, headers: req.headers, body });
        res.writeHead(req.method === 'DELETE' ? 204 : 200, { 'content-type': 'application/json' });
        res.end(req.method === 'DELETE' ? undefined : '{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    const port = (recorder.address() as { port: number }).port;
    const api = createClient((input, init) => fetch(`http://127.0.0.1:${port}${input}`, init), () => 'theme=dark; pier_csrf=abc%3D123; other=1');
    try {
      assert.deepEqual(await api('/x'), { ok: true });
      assert.deepEqual(await api('/x', { method: 'POST', json: { a: 1 } }), { ok: true });
      assert.equal(await api('/x', { method: 'DELETE' }), undefined);
    } finally {
      recorder.close();
    }
    assert.equal(seen[0]!.headers['x-csrf-token'], undefined);
    assert.equal(seen[1]!.headers['x-csrf-token'], 'abc=123');
    assert.equal(seen[1]!.headers['content-type'], 'application/json');
    assert.equal(seen[1]!.body, '{"a":1}');
    assert.equal(seen[2]!.headers['x-csrf-token'], 'abc=123');
  });

  it('reads the CSRF cookie among others', () => {
    assert.equal(csrfToken('a=1; pier_csrf=t0k; b=2'), 't0k');
    assert.equal(csrfToken('pier_csrf_other=x'), undefined);
    assert.equal(csrfToken(''), undefined);
  });
});
