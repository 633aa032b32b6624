// GET /api/v1/users/me/pull-limit: an account's allowance and what is left of it, as the pull
// limits count it (the same counter as the RateLimit headers of /v2), without counting a pull.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, TestClock, tokenFor, type Login } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

for (const { backend, options } of await testBackends()) {
  describe(`pull allowance of an account (${backend})`, options, () => {
    const clock = new TestClock();
    let server: TestServer;
    const alice: Login = { username: 'alice', secret: 'alice-password-1' };

    before(async () => {
      server = await startTestServer({ 'auth.mode': 'token', trustProxy: '127.0.0.1' }, { clock, backend });
      await server.hub.accounts.create({ name: 'alice', password: alice.secret });
      await server.hub.plans.update('free', { pullsPerWindow: 3, pullWindowSeconds: 600 });
      const push = await tokenFor(server.url, alice, ['repository:alice/app:push,pull']);
      await pushImage(server.url, 'alice/app', 'v1', { token: push });
    });
    after(() => server?.stop());

    const allowance = async (login?: Login) => {
      const res = await fetch(`${server.url}/api/v1/users/me/pull-limit`, {
        headers: login ? { authorization: `Basic ${Buffer.from(`${login.username}:${login.secret}`).toString('base64')}` } : {},
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const pull = async (method = 'GET') => {
      const token = await tokenFor(server.url, alice, ['repository:alice/app:pull']);
      const res = await fetch(`${server.url}/v2/alice/app/manifests/v1`, {
        method,
        headers: { ...bearer(token), accept: 'application/vnd.oci.image.manifest.v1+json', 'x-forwarded-for': '203.0.113.7' },
      });
      await res.arrayBuffer();
      return res.headers.get('ratelimit-remaining');
    };

    it('says the whole allowance before any pull, and needs an account', async () => {
      assert.deepEqual((await allowance(alice)).body, { plan: 'free', limit: 3, window_seconds: 600, remaining: 3, reset_at: null });
      assert.equal((await allowance()).status, 401);
    });

    it('follows the pulls counted by /v2 (HEAD free), asking counts nothing, and is whole again after the window', async () => {
      const started = clock.now();
      assert.equal(await pull(), '2;w=600');
      assert.equal(await pull('HEAD'), '2;w=600');
      const after1 = (await allowance(alice)).body;
      assert.equal(after1.remaining, 2);
      assert.equal(after1.reset_at, new Date(started + 600_000).toISOString());
      assert.equal((await allowance(alice)).body.remaining, 2, 'asking is not a pull');
      assert.equal(await pull(), '1;w=600');
      assert.equal((await allowance(alice)).body.remaining, 1);
      clock.advance(601_000);
      assert.deepEqual((await allowance(alice)).body, { plan: 'free', limit: 3, window_seconds: 600, remaining: 3, reset_at: null });
    });

    it('says unlimited on a plan without a pull limit', async () => {
      await server.hub.plans.update('free', { pullsPerWindow: null });
      const { body } = await allowance(alice);
      assert.equal(body.limit, null);
      assert.equal(body.remaining, null);
    });
  });
}
