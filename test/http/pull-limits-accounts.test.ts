// Authenticated pulls are limited per account, by its plan, wherever they come from; a bigger plan
// raises the limit at once (asked per request, not when the token was issued).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, TestClock, tokenFor, type Login } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('pull limits per account and plan', () => {
  const clock = new TestClock();
  let server: TestServer;
  const alice: Login = { username: 'alice', secret: 'alice-password-1' };
  const bob: Login = { username: 'bob', secret: 'bob-password-12' };

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token', trustProxy: '127.0.0.1' }, { clock });
    await server.hub.accounts.create({ name: 'alice', password: alice.secret });
    await server.hub.accounts.create({ name: 'bob', password: bob.secret });
    await server.hub.accounts.create({ name: 'boss', password: 'boss-password-1', admin: true });
    await server.hub.plans.update('free', { pullsPerWindow: 2, pullWindowSeconds: 600 });
    await server.hub.settings.set('anonymousPullLimit', 1);
    await server.hub.settings.set('anonymousPullWindowSeconds', 60);
    const push = await tokenFor(server.url, alice, ['repository:alice/app:push,pull']);
    await pushImage(server.url, 'alice/app', 'v1', { token: push });
  });
  after(() => server?.stop());

  const pull = async (login: Login | undefined, from: string, method = 'GET') => {
    const token = await tokenFor(server.url, login, ['repository:alice/app:pull']);
    const res = await fetch(`${server.url}/v2/alice/app/manifests/v1`, {
      method,
      headers: { ...bearer(token), accept: 'application/vnd.oci.image.manifest.v1+json', 'x-forwarded-for': from },
    });
    return { status: res.status, limit: res.headers.get('ratelimit-limit'), remaining: res.headers.get('ratelimit-remaining'), retryAfter: res.headers.get('retry-after'), text: await res.text() };
  };

  it('counts an account\'s pulls against its plan from every address, and says which plan and how to raise it', async () => {
    const first = await pull(alice, '203.0.113.1');
    assert.equal(first.status, 200);
    assert.equal(first.limit, '2;w=600');
    assert.equal(first.remaining, '1;w=600');
    assert.equal((await pull(alice, '203.0.113.2', 'HEAD')).remaining, '1;w=600', 'HEAD is free');
    assert.equal((await pull(alice, '198.51.100.9')).remaining, '0;w=600', 'another address, the same account');
    const refused = await pull(alice, '203.0.113.3');
    assert.equal(refused.status, 429);
    assert.equal(refused.retryAfter, '600');
    const error = (JSON.parse(refused.text) as { errors: Array<{ code: string; message: string }> }).errors[0]!;
    assert.equal(error.code, 'TOOMANYREQUESTS');
    assert.match(error.message, /alice on the "free" plan: 2 pulls per 10 minutes/);
    assert.match(error.message, /"pro" plan allows 5000 pulls per 6 hours/);
    assert.match(error.message, /pier plan set alice pro/);

    const other = await pull(bob, '203.0.113.3');
    assert.equal(other.status, 200, 'bob has an allowance of his own');
    assert.equal(other.remaining, '1;w=600');
  });

  it('a bigger plan applies to the next pull, with the token already issued', async () => {
    await server.hub.plans.apply('alice', 'pro');
    const res = await pull(alice, '203.0.113.1');
    assert.equal(res.status, 200);
    assert.equal(res.limit, '5000;w=21600');
    assert.equal(res.remaining, '4997;w=21600', 'the pulls already made in the window still count');
    await server.hub.plans.update('pro', { pullsPerWindow: null });
    const unlimited = await pull(alice, '203.0.113.1');
    assert.equal(unlimited.status, 200);
    assert.equal(unlimited.limit, null, 'an unlimited plan answers no RateLimit headers');
  });

  it('anonymous pulls of a public repository are limited per address, with a message that says to log in', async () => {
    assert.equal((await pull(undefined, '192.0.2.1')).remaining, '0;w=60');
    const refused = await pull(undefined, '192.0.2.1');
    assert.equal(refused.status, 429);
    assert.match(refused.text, /Log in \(docker login\)/);
    assert.equal((await pull(alice, '192.0.2.1')).status, 200, 'logged in, the account\'s allowance counts');
    clock.advance(60_000);
    assert.equal((await pull(undefined, '192.0.2.1')).status, 200);
  });

  it('an administrator reads and changes the anonymous allowance and the exempt addresses through the API', async () => {
    const api = (method: string, login: string | undefined, body?: unknown) =>
      fetch(`${server.url}/api/v1/settings/pull-limits`, {
        method,
        headers: { ...(login ? { authorization: `Basic ${Buffer.from(login).toString('base64')}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    assert.equal((await api('GET', undefined)).status, 401);
    assert.equal((await api('GET', `alice:${alice.secret}`)).status, 403);
    const changed = await api('PUT', 'boss:boss-password-1', { anonymous_limit: 7, exempt: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] });
    assert.equal(changed.status, 200);
    assert.deepEqual(await changed.json(), { anonymous_limit: 7, anonymous_window_seconds: 60, exempt: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] });
    const bad = await api('PUT', 'boss:boss-password-1', { exempt: ['10.0.0.0/33'] });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /CIDR/);
    assert.equal((await api('PUT', 'boss:boss-password-1', {})).status, 400);
    assert.equal((await pull(undefined, '10.1.2.3')).limit, null, 'exempt at once');
    assert.equal((await pull(undefined, '198.51.100.77')).limit, '7;w=60');
    const unlimited = await api('PUT', 'boss:boss-password-1', { anonymous_limit: null });
    assert.equal(((await unlimited.json()) as { anonymous_limit: unknown }).anonymous_limit, null);
  });
});
