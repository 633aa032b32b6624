// Browser sessions: POST /api/v1/sessions sets the pier_session cookie (HttpOnly) and pier_csrf
// (readable); every state-changing request the cookie authenticates must send X-CSRF-Token equal
// to pier_csrf and, when it sends an Origin, Pier's own. Bearer and Basic callers are not
// concerned. Sessions are listed beside docker logins and end at once when revoked, signed out,
// idle, after a password change, or with the account.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { SESSION_IDLE_MS, SESSION_LIFETIME_MS } from '../../src/hub/browser-sessions.js';
import { tokenGet, jwtPayload } from '../support/auth.js';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';
import { CookieBrowser, parseSetCookie, setCookies } from '../support/cookie-browser.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';
import { createTestCa, opensslAvailable, type TestCa } from '../support/tls.js';

interface ListedSession {
  id: string;
  kind: 'browser' | 'docker';
  user_agent: string | null;
  client_id: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  current: boolean;
}

const openssl = await opensslAvailable();

for (const { backend, options } of await testBackends()) describe(`/api/v1 browser sessions (cookie) and CSRF (${backend})`, options, () => {
  let server: ApiServer;
  const browser = () => new CookieBrowser(server.url);

  before(async () => {
    server = await startApiServer({}, { backend });
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'guessed', 'gone']) await createUser(server, name);
  });
  after(() => server.stop());

  describe('signing in', () => {
    it('sets pier_session HttpOnly and pier_csrf readable, both SameSite=Lax on Path=/, not Secure over plain HTTP', async () => {
      const b = browser();
      const res = await b.fetch('/api/v1/sessions', { method: 'POST', json: { username: 'alice', password: PASSWORD } });
      const body = await expectJson<{ username: string; csrf_token: string; expires_at: string }>(res, 201);
      assert.deepEqual(Object.keys(body).sort(), ['csrf_token', 'expires_at', 'username']);
      assert.equal(body.username, 'alice');
      const cookies = new Map(setCookies(res).map((c) => [c.name, c]));
      assert.deepEqual([...cookies.keys()].sort(), ['pier_csrf', 'pier_session']);
      const session = cookies.get('pier_session')!;
      const csrf = cookies.get('pier_csrf')!;
      assert.match(session.value, /^pier_bs_[A-Za-z0-9_-]{43}$/);
      assert.equal(csrf.value, body.csrf_token, 'the answer names the CSRF token');
      assert.ok(session.attributes.has('httponly'), 'no script reads the session');
      assert.ok(!csrf.attributes.has('httponly'), 'the page reads the CSRF token');
      for (const c of [session, csrf]) {
        assert.equal(c.attributes.get('samesite'), 'Lax');
        assert.equal(c.attributes.get('path'), '/');
        assert.equal(c.attributes.get('max-age'), String(SESSION_LIFETIME_MS / 1000));
        assert.ok(!c.attributes.has('secure'), 'plain HTTP: a Secure cookie would never come back');
      }
      assert.ok(Math.abs(Date.parse(body.expires_at) - (Date.now() + SESSION_LIFETIME_MS)) < 60_000);
      assert.ok(!JSON.stringify(body).includes(session.value), 'the secret is in the cookie only');

      const me = await expectJson<{ username: string; plan: string }>(await b.api('/users/me'), 200);
      assert.equal(me.username, 'alice');
      assert.equal(me.plan, 'free');
      await expectProblem(await browser().api('/users/me'), 401, /sign in/, 'unauthorized');
    });

    it('refuses a wrong password (401) and a personal access token (403), and is throttled like every password check (429)', async () => {
      await expectProblem(await browser().api('/sessions', { method: 'POST', json: { username: 'alice', password: 'wrong password' } }), 401, /incorrect username or password/);
      await expectProblem(await browser().api('/sessions', { method: 'POST', json: { username: 'nobody', password: PASSWORD } }), 401, /incorrect username or password/);
      const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:admin'] });
      await expectProblem(await browser().api('/sessions', { method: 'POST', json: { username: 'alice', password: token } }), 403, /password/);
      await expectProblem(await browser().api('/sessions', { method: 'POST', json: { username: 'alice' } }), 400, /^password: /, 'validation');
      for (let i = 0; i < 5; i++) {
        await expectProblem(await browser().api('/sessions', { method: 'POST', json: { username: 'guessed', password: `guess ${i} wrong` } }), 401);
      }
      const refused = await browser().api('/sessions', { method: 'POST', json: { username: 'guessed', password: PASSWORD } });
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      await expectProblem(refused, 429, /too many failed sign-in attempts/, 'too-many-requests');
      assert.equal(refused.headers.getSetCookie().length, 0, 'no session');
    });

    it('replaces the session the browser had: the earlier one ends', async () => {
      const b = browser();
      await b.signIn('carol');
      const first = b.cookies.get('pier_session')!;
      await b.signIn('carol');
      assert.notEqual(b.cookies.get('pier_session'), first);
      const stale = new CookieBrowser(server.url);
      stale.cookies.set('pier_session', first);
      await expectProblem(await stale.api('/users/me'), 401, /session has ended/);
      const sessions = await expectJson<{ count: number }>(await b.api('/users/me/sessions'), 200);
      assert.equal(sessions.count, 1);
    });

    it('refuses a foreign Origin at sign-in (login CSRF), and signs in over a stale cookie without a CSRF token', async () => {
      await expectProblem(
        await browser().api('/sessions', { method: 'POST', json: { username: 'alice', password: PASSWORD }, origin: 'http://evil.example' }),
        403,
        /cross-site/,
        'csrf',
      );
      const b = browser();
      b.cookies.set('pier_session', 'pier_bs_stale');
      b.cookies.set('pier_csrf', 'stale');
      await b.signIn('alice');
      assert.notEqual(b.cookies.get('pier_session'), 'pier_bs_stale');
      await expectJson(await b.api('/users/me'), 200);
    });
  });

  describe('CSRF', () => {
    let alice: CookieBrowser;
    before(async () => {
      alice = browser();
      await alice.signIn('alice');
    });
    const newToken = (init: Parameters<CookieBrowser['api']>[1] = {}) =>
      alice.api('/users/me/tokens', { method: 'POST', json: { label: 'csrf test', scopes: ['repo:read'] }, ...init });

    it('accepts a state-changing request with X-CSRF-Token equal to pier_csrf, with or without its own Origin; reads need neither', async () => {
      await expectJson(await newToken(), 201);
      await expectJson(await newToken({ origin: null }), 201);
      await expectJson(await alice.api('/users/me/tokens', { csrf: false }), 200);
    });

    it('refuses a state-changing request without the token, with another value, or with another session’s token', async () => {
      const other = browser();
      const { csrf_token: bobs } = await other.signIn('bob');
      const cases: Array<[Parameters<CookieBrowser['api']>[1], RegExp]> = [
        [{ csrf: false }, /must send X-CSRF-Token/],
        [{ csrf: false, origin: null }, /must send X-CSRF-Token/],
        [{ csrf: 'not-the-token' }, /does not match/],
        [{ csrf: '' }, /must send X-CSRF-Token/],
        [{ csrf: bobs }, /does not match/],
      ];
      for (const [init, detail] of cases) await expectProblem(await newToken(init), 403, detail, 'csrf');
      // the header must also equal the cookie: a token sent without its cookie is refused
      const noCsrfCookie = new CookieBrowser(server.url);
      noCsrfCookie.cookies.set('pier_session', alice.cookies.get('pier_session')!);
      await expectProblem(await noCsrfCookie.api('/users/me/tokens', { method: 'POST', json: { label: 'x', scopes: ['repo:read'] }, csrf: alice.cookies.get('pier_csrf')! }), 403, /does not match/, 'csrf');
      for (const method of ['PUT', 'PATCH', 'DELETE']) {
        await expectProblem(await alice.api('/users/me', { method, json: { default_private: true }, csrf: false }), method === 'PUT' ? 405 : 403);
      }
    });

    it('refuses a foreign Origin even with the right token', async () => {
      for (const origin of ['http://evil.example', 'null', server.url.replace('127.0.0.1', 'localhost'), server.url.replace('http:', 'https:')]) {
        await expectProblem(await newToken({ origin }), 403, /cross-site request: Origin/, 'csrf');
      }
    });

    it('refuses a cross-site form post before its body is read: no token is created', async () => {
      const before = (await expectJson<{ count: number }>(await alice.api('/users/me/tokens'), 200)).count;
      const form = { method: 'POST', body: 'label=pwned&scopes=repo:admin', headers: { 'content-type': 'application/x-www-form-urlencoded' }, csrf: false, origin: 'http://evil.example' } as const;
      await expectProblem(await alice.api('/users/me/tokens', form), 403, /cross-site/, 'csrf');
      await expectProblem(await alice.api('/users/me/tokens', { ...form, origin: null }), 403, /X-CSRF-Token/, 'csrf');
      // text/plain is what a form uses to smuggle JSON
      await expectProblem(await alice.api('/users/me/tokens', { ...form, body: '{"label":"pwned","scopes":["repo:admin"]}', headers: { 'content-type': 'text/plain' } }), 403, undefined, 'csrf');
      assert.equal((await expectJson<{ count: number }>(await alice.api('/users/me/tokens'), 200)).count, before);
    });

    it('leaves Bearer and Basic callers alone: no token needed, any Origin, the cookie ignored', async () => {
      const jwt = await signIn(server, 'bob');
      const body = JSON.stringify({ label: 'script', scopes: ['repo:read'] });
      const headers = { 'content-type': 'application/json', origin: 'http://evil.example', cookie: `pier_session=${alice.cookies.get('pier_session')}` };
      const basic = `Basic ${Buffer.from(`bob:${PASSWORD}`).toString('base64')}`;
      for (const authorization of [`Bearer ${jwt}`, basic]) {
        const created = await fetch(`${server.url}/api/v1/users/me/tokens`, { method: 'POST', headers: { ...headers, authorization }, body });
        await expectJson(created, 201);
        const me = await expectJson<{ username: string }>(await fetch(`${server.url}/api/v1/users/me`, { headers: { ...headers, authorization } }), 200);
        assert.equal(me.username, 'bob', 'the Authorization header decides, not the cookie');
      }
      // POST /users/login keeps giving scripts a session token
      assert.equal(jwtPayload(jwt).sub, 'bob');
    });

    it('grants nothing at /v2 and /token: docker clients never use the cookie', async () => {
      await pushImage(server.registry, 'alice/secret', 'latest');
      await server.hub.repositories.setVisibility('alice/secret', true);
      const cookie = `pier_session=${alice.cookies.get('pier_session')}; pier_csrf=${alice.cookies.get('pier_csrf')}`;
      const v2 = await fetch(`${server.url}/v2/alice/secret/tags/list`, { headers: { cookie } });
      assert.equal(v2.status, 401);
      const withCookie = await tokenGet(server.url, { scopes: ['repository:alice/secret:pull'], headers: { cookie } });
      const anonymous = await tokenGet(server.url, { scopes: ['repository:alice/secret:pull'] });
      assert.equal(withCookie.status, 200, 'an anonymous token');
      const claims = jwtPayload(withCookie.body.token as string);
      assert.deepEqual([claims.sub, claims.access], [jwtPayload(anonymous.body.token as string).sub, jwtPayload(anonymous.body.token as string).access]);
      assert.ok(!JSON.stringify(claims).includes('alice/secret'), 'no access to the private repository');
    });
  });

  describe('the sessions list', () => {
    it('lists browsers beside docker logins, marks the current one; revoking another signs that browser out at once', async () => {
      const here = new CookieBrowser(server.url, 'Here/1.0');
      const there = new CookieBrowser(server.url, 'There/2.0');
      await here.signIn('dave');
      await there.signIn('dave');
      await server.hub.tokens.createRefreshToken('dave', 'docker');
      const list = await expectJson<{ count: number; results: ListedSession[] }>(await here.api('/users/me/sessions'), 200);
      assert.equal(list.count, 3);
      assert.deepEqual(
        list.results.map((s) => [s.kind, s.user_agent, s.client_id, s.current, s.expires_at !== null]),
        [
          ['browser', 'Here/1.0', null, true, true],
          ['browser', 'There/2.0', null, false, true],
          ['docker', null, 'docker', false, false],
        ],
      );
      assert.ok(!JSON.stringify(list).includes(there.cookies.get('pier_session')!), 'no secret is listed');
      // from Basic or a session token, none is current
      const viaBasic = await expectJson<{ results: ListedSession[] }>(await server.api('/users/me/sessions', { auth: { basic: ['dave', PASSWORD] } }), 200);
      assert.ok(viaBasic.results.every((s) => !s.current));

      const thereId = list.results[1]!.id;
      await expectProblem(await here.api(`/users/me/sessions/${thereId}`, { method: 'DELETE', csrf: false }), 403, undefined, 'csrf');
      const revoked = await here.api(`/users/me/sessions/${thereId}`, { method: 'DELETE' });
      assert.equal(revoked.status, 204);
      assert.equal(revoked.headers.getSetCookie().length, 0, 'this browser keeps its cookies');
      const out = await there.api('/users/me');
      await expectProblem(out, 401, /session has ended: sign in again/, 'unauthorized');
      const cleared = setCookies(out);
      assert.deepEqual(cleared.map((c) => [c.name, c.value, c.attributes.get('max-age')]).sort(), [['pier_csrf', '', '0'], ['pier_session', '', '0']]);
      assert.equal(there.cookies.size, 0, 'the browser forgot them');
      await expectJson(await here.api('/users/me'), 200);
      await expectProblem(await here.api(`/users/me/sessions/${thereId}`, { method: 'DELETE' }), 404);

      // ending the current session from the list signs this browser out
      const current = list.results[0]!.id;
      const self = await here.api(`/users/me/sessions/${current}`, { method: 'DELETE' });
      assert.equal(self.status, 204);
      assert.deepEqual(setCookies(self).map((c) => c.attributes.get('max-age')), ['0', '0']);
      await expectProblem(await new CookieBrowser(server.url).api('/users/me'), 401);
      const remaining = await expectJson<{ results: ListedSession[] }>(await server.api('/users/me/sessions', { auth: { basic: ['dave', PASSWORD] } }), 200);
      assert.deepEqual(remaining.results.map((s) => s.kind), ['docker']);
      // another account's session is not found
      const erin = browser();
      await erin.signIn('erin');
      const erinsId = (await expectJson<{ results: ListedSession[] }>(await erin.api('/users/me/sessions'), 200)).results[0]!.id;
      await expectProblem(await server.api(`/users/me/sessions/${erinsId}`, { method: 'DELETE', auth: { basic: ['dave', PASSWORD] } }), 404);
      await expectJson(await erin.api('/users/me'), 200);
    });

    it('signs out with DELETE /sessions/current: the row is revoked and the cookies cleared; twice is fine', async () => {
      const b = browser();
      await b.signIn('frank');
      const secret = b.cookies.get('pier_session')!;
      await expectProblem(await b.api('/sessions/current', { method: 'DELETE', csrf: false }), 403, undefined, 'csrf');
      const res = await b.api('/sessions/current', { method: 'DELETE' });
      assert.equal(res.status, 204);
      assert.deepEqual(setCookies(res).map((c) => [c.name, c.attributes.get('max-age')]).sort(), [['pier_csrf', '0'], ['pier_session', '0']]);
      assert.equal(await server.hub.browserSessions.authenticate(secret), undefined);
      assert.equal((await b.api('/sessions/current', { method: 'DELETE' })).status, 204);
      const replay = new CookieBrowser(server.url);
      replay.cookies.set('pier_session', secret);
      await expectProblem(await replay.api('/users/me'), 401);
    });
  });

  describe('ending sessions', () => {
    it('a password change ends the other browser sessions; the browser that changed it gets a new one', async () => {
      await createUser(server, 'changer');
      const here = browser();
      const there = browser();
      await here.signIn('changer');
      await there.signIn('changer');
      const old = here.cookies.get('pier_session')!;
      server.advance(5);
      const res = await here.api('/users/me/password', { method: 'PUT', json: { current_password: PASSWORD, new_password: 'a new password 1' } });
      assert.equal(res.status, 204, await res.text());
      assert.notEqual(here.cookies.get('pier_session'), old, 'a new session in the cookies');
      await expectJson(await here.api('/users/me'), 200);
      await expectProblem(await there.api('/users/me'), 401, /session has ended/);
      const replay = new CookieBrowser(server.url);
      replay.cookies.set('pier_session', old);
      await expectProblem(await replay.api('/users/me'), 401);
      const list = await expectJson<{ results: ListedSession[] }>(await here.api('/users/me/sessions'), 200);
      assert.deepEqual(list.results.map((s) => s.current), [true]);
    });

    it('a deleted account’s cookie stops working; deleting from a browser asks for the password and clears the cookies', async () => {
      const here = browser();
      const there = browser();
      await here.signIn('gone');
      await there.signIn('gone');
      await expectProblem(await here.api('/users/me', { method: 'DELETE', json: { confirm: 'gone' } }), 400, /password/);
      const res = await here.api('/users/me', { method: 'DELETE', json: { confirm: 'gone', password: PASSWORD } });
      await expectJson(res, 200);
      assert.deepEqual(setCookies(res).map((c) => c.attributes.get('max-age')), ['0', '0']);
      await expectProblem(await there.api('/users/me'), 401, /session has ended/);
      await expectProblem(await there.api('/users/me/tokens', { method: 'POST', json: { label: 'x', scopes: ['repo:read'] } }), 401);
    });

    it('a session left unused for a day ends; an ended cookie on a page anyone may read counts as none, and is cleared', async () => {
      const b = browser();
      await b.signIn('bob');
      server.advance(SESSION_IDLE_MS - 120_000);
      await expectJson(await b.api('/users/me'), 200);
      server.advance(SESSION_IDLE_MS - 1000);
      await expectJson(await b.api('/users/me'), 200);
      server.advance(SESSION_IDLE_MS);
      const stale = new CookieBrowser(server.url);
      for (const [name, value] of b.cookies) stale.cookies.set(name, value);
      await pushImage(server.registry, 'bob/public-app', 'latest');
      const page = await stale.api('/repositories/bob/public-app');
      await expectJson(page, 200);
      assert.deepEqual(setCookies(page).map((c) => [c.name, c.attributes.get('max-age')]).sort(), [['pier_csrf', '0'], ['pier_session', '0']]);
      await expectProblem(await b.api('/users/me'), 401, /session has ended/);
    });
  });
});

describe('browser sessions without token authentication (PIER_AUTH=open)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.hub.accounts.create({ name: 'olga', password: PASSWORD });
  });
  after(() => server.stop());

  it('signs in with the cookie all the same (accounts exist in open mode); session tokens stay unavailable', async () => {
    const b = new CookieBrowser(server.url);
    await b.signIn('olga');
    assert.equal((await expectJson<{ username: string }>(await b.api('/users/me'), 200)).username, 'olga');
    await expectJson(await b.api('/users/me/tokens', { method: 'POST', json: { label: 'x', scopes: ['repo:read'] } }), 201);
    await expectProblem(await b.api('/users/me/tokens', { method: 'POST', json: { label: 'x', scopes: ['repo:read'] }, csrf: false }), 403, undefined, 'csrf');
    await expectProblem(await b.api('/users/login', { method: 'POST', json: { username: 'olga', password: PASSWORD } }), 501);
  });
});

describe('Secure cookies', () => {
  it('behind a trusted proxy that says https (X-Forwarded-Proto), and from nobody else; its origin is then https', async () => {
    const trusting = await startApiServer({ trustProxy: '127.0.0.1', publicUrl: 'https://registry.example.com' });
    const plain = await startApiServer();
    try {
      for (const s of [trusting, plain]) await createUser(s, 'alice');
      const signIn = (s: ApiServer, headers: Record<string, string>) =>
        fetch(`${s.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
      const secure = (res: Response) => setCookies(res).map((c) => c.attributes.has('secure'));
      assert.deepEqual(secure(await signIn(trusting, { 'x-forwarded-proto': 'https' })), [true, true]);
      assert.deepEqual(secure(await signIn(trusting, { 'x-forwarded-proto': 'http, https' })), [true, true], 'the last proxy’s word');
      assert.deepEqual(secure(await signIn(trusting, {})), [false, false]);
      assert.deepEqual(secure(await signIn(plain, { 'x-forwarded-proto': 'https' })), [false, false], 'anyone can send the header: not believed');

      // behind the proxy, the page's origin is the public URL, or https://<Host>
      const res = await signIn(trusting, { 'x-forwarded-proto': 'https' });
      const cookies = Object.fromEntries(setCookies(res).map((c) => [c.name, c.value]));
      const write = (origin: string) =>
        fetch(`${trusting.url}/api/v1/users/me/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https', origin, 'x-csrf-token': cookies.pier_csrf!, cookie: `pier_session=${cookies.pier_session}; pier_csrf=${cookies.pier_csrf}` },
          body: JSON.stringify({ label: 'x', scopes: ['repo:read'] }),
        });
      await expectJson(await write('https://registry.example.com'), 201);
      await expectJson(await write(`https://${new URL(trusting.url).host}`), 201);
      await expectProblem(await write(trusting.url), 403, /cross-site/, 'csrf');
    } finally {
      await trusting.stop();
      await plain.stop();
    }
  });

  describe('over Pier’s own TLS', { ...skipUnless(openssl), timeout: 60_000 }, () => {
    let ca: TestCa;
    let server: TestServer;
    before(async () => {
      requireTool(openssl);
      ca = await createTestCa();
      const cert = await ca.issue('localhost', { ips: ['127.0.0.1'] });
      server = await startTestServer({ 'auth.mode': 'token', 'tls.cert': cert.certFile, 'tls.key': cert.keyFile });
      await server.hub.accounts.create({ name: 'alice', password: PASSWORD });
    });
    after(async () => {
      await server?.stop();
      await ca?.remove();
    });

    it('sets both cookies Secure', async () => {
      const setCookie = await new Promise<string[]>((resolve, reject) => {
        const req = httpsRequest(`${server.url}/api/v1/sessions`, { method: 'POST', ca: ca.caPem, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 201 ? resolve(res.headers['set-cookie'] ?? []) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ username: 'alice', password: PASSWORD }));
      });
      const cookies = setCookie.map(parseSetCookie);
      assert.deepEqual(cookies.map((c) => [c.name, c.attributes.has('secure'), c.attributes.has('httponly')]).sort(), [
        ['pier_csrf', true, false],
        ['pier_session', true, true],
      ]);
    });
  });
});
