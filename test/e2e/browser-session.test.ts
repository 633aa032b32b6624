// Cookie sessions in a real browser (Debian's Chromium, headless, driven over the DevTools pipe):
// a page on Pier's own origin signs in with fetch and the cookie is set HttpOnly (the page's
// document.cookie shows pier_csrf, never pier_session), the page then changes things with its
// X-CSRF-Token; a page on another local port, whose form posts to Pier (and whose script sends a
// no-cors request), makes the browser send the cookie, and Pier refuses both as cross-site.
// Without chromium the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PASSWORD } from '../support/api.js';
import { Chromium, type Tab } from '../support/cdp.js';
import { requireTool, skipUnless, which, type Availability } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

async function findChromium(): Promise<Availability<string>> {
  const path = await which('chromium');
  return path ? { ok: true, value: path } : { ok: false, reason: 'chromium not found (apt-get install chromium)' };
}

const found = await findChromium();

/** The page of another site: a form that posts JSON-looking text to Pier, and a no-cors fetch. */
function attackerPage(pier: string): string {
  const target = `${pier}/api/v1/users/me/tokens`;
  const body = JSON.stringify({ label: 'pwned by fetch', scopes: ['repo:admin'] });
  return `<!doctype html><html><body>
<form method="POST" action="${target}" enctype="text/plain">
  <input name='{"label":"pwned by form","scopes":["repo:admin"],"x":"' value='"}'>
</form>
<script>
  fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} })
    .finally(() => document.forms[0].submit());
</script>
</body></html>`;
}

describe('browser sessions in Chromium', { ...skipUnless(found), timeout: 120_000 }, () => {
  let server: TestServer;
  let attacker: Server;
  let attackerUrl: string;
  let chromium: Chromium;
  let tab: Tab;

  before(async () => {
    const executable = requireTool(found);
    server = await startTestServer({ 'auth.mode': 'token' });
    await server.hub.accounts.create({ name: 'alice', password: PASSWORD });
    attacker = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(attackerPage(server.url));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    chromium = await Chromium.launch(executable);
    tab = await chromium.newTab();
  });

  after(async () => {
    await chromium?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await server?.stop();
  });

  const tokenLabels = async () =>
    (await server.hub.tokens.listPersonalAccessTokens('alice')).map((t) => t.label).sort();

  it('signs in from a page on Pier’s origin with fetch; the session cookie is HttpOnly, and the page writes with its CSRF token', async () => {
    // any page Pier serves is on its origin: the API reference will do
    await tab.goto(`${server.url}/api/docs`);
    const result = await tab.evaluate<{
      signIn: number;
      body: { username: string; csrf_token: string };
      cookie: string;
      me: { username: string };
      created: number;
      withoutToken: { status: number; type: string };
    }>(`(async () => {
      const json = { 'content-type': 'application/json' };
      const signIn = await fetch('/api/v1/sessions', { method: 'POST', headers: json, body: JSON.stringify({ username: 'alice', password: ${JSON.stringify(PASSWORD)} }) });
      const body = await signIn.json();
      const me = await (await fetch('/api/v1/users/me')).json();
      const csrf = document.cookie.split('; ').find((c) => c.startsWith('pier_csrf=')).slice('pier_csrf='.length);
      const created = await fetch('/api/v1/users/me/tokens', { method: 'POST', headers: { ...json, 'x-csrf-token': csrf }, body: JSON.stringify({ label: 'from the page', scopes: ['repo:read'] }) });
      const refused = await fetch('/api/v1/users/me/tokens', { method: 'POST', headers: json, body: JSON.stringify({ label: 'no token', scopes: ['repo:read'] }) });
      return { signIn: signIn.status, body, cookie: document.cookie, me, created: created.status, withoutToken: { status: refused.status, type: (await refused.json()).type } };
    })()`);
    assert.equal(result.signIn, 201);
    assert.equal(result.body.username, 'alice');
    assert.match(result.cookie, /(^|; )pier_csrf=/);
    assert.ok(result.cookie.includes(result.body.csrf_token));
    assert.doesNotMatch(result.cookie, /pier_session/, 'document.cookie never shows the session');
    assert.equal(result.me.username, 'alice');
    assert.equal(result.created, 201);
    assert.deepEqual(result.withoutToken, { status: 403, type: 'https://pier.dev/problems/csrf' });

    const jar = new Map((await chromium.cookies()).map((c) => [c.name, c]));
    assert.equal(jar.get('pier_session')?.httpOnly, true);
    assert.equal(jar.get('pier_csrf')?.httpOnly, false);
    for (const name of ['pier_session', 'pier_csrf']) {
      assert.equal(jar.get(name)?.sameSite, 'Lax');
      assert.equal(jar.get(name)?.path, '/');
    }
    assert.deepEqual(await tokenLabels(), ['from the page']);
  });

  it('refuses the form post and the no-cors request of a page on another port, though the browser sends the cookie', async () => {
    const sent = new Map<string, { url: string; method: string }>();
    const cookies = new Map<string, string>();
    const answers = new Map<string, number>();
    const stops = [
      tab.on('Network.requestWillBeSent', (p) => {
        const request = p.request as { url: string; method: string };
        if (request.url.startsWith(`${server.url}/api/v1/users/me/tokens`)) sent.set(p.requestId as string, request);
      }),
      tab.on('Network.requestWillBeSentExtraInfo', (p) => {
        const headers = p.headers as Record<string, string>;
        const cookie = Object.entries(headers).find(([name]) => name.toLowerCase() === 'cookie')?.[1];
        if (cookie) cookies.set(p.requestId as string, cookie);
      }),
      tab.on('Network.responseReceived', (p) => answers.set(p.requestId as string, (p.response as { status: number }).status)),
    ];
    try {
      // the form's answer replaces the page: wait for Pier's document to load
      const formAnswered = tab.waitFor('Page.frameNavigated', (p) => ((p.frame as { url: string }).url ?? '').startsWith(server.url));
      await tab.goto(`${attackerUrl}/`);
      await formAnswered;
      const deadline = Date.now() + 15_000;
      while ([...sent.keys()].filter((id) => answers.has(id)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      for (const stop of stops) stop();
    }
    const requests = [...sent].map(([id, request]) => ({ method: request.method, status: answers.get(id), cookie: cookies.get(id) ?? '' }));
    assert.equal(requests.length, 2, JSON.stringify(requests));
    for (const request of requests) {
      assert.equal(request.method, 'POST');
      assert.match(request.cookie, /pier_session=pier_bs_/, 'SameSite=Lax still sends the cookie from another port of the same site');
      assert.equal(request.status, 403);
    }
    // what the form's navigation shows: Pier's problem, a csrf refusal of a cross-site request
    const text = await tab.evaluate<string>('document.body.innerText');
    const problem = JSON.parse(text) as { type: string; detail: string };
    assert.equal(problem.type, 'https://pier.dev/problems/csrf');
    assert.match(problem.detail, new RegExp(`cross-site request: Origin ${attackerUrl}`));
    assert.deepEqual(await tokenLabels(), ['from the page'], 'nothing was created');
  });
});
