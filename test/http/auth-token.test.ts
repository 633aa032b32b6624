// The token endpoint (/token): GET with Basic credentials, the OAuth2 POST form, scopes,
// personal access tokens, refresh tokens, wrong credentials and the login throttle.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { bearer, jwtPayload, parseChallenge, TestClock, tokenFor, tokenGet, tokenPost, type Login } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const alice: Login = { username: 'alice', secret: 'alice-password-1' };
const bob: Login = { username: 'bob', secret: 'bob-password-1' };
const root: Login = { username: 'root1', secret: 'root-password-1' };

describe('/token', () => {
  let server: TestServer;
  const clock = new TestClock();
  let host: string;

  before(async () => {
    // X-Forwarded-For is believed from 127.0.0.1, so tests can speak from several addresses
    server = await startTestServer({ 'auth.mode': 'token', 'auth.loginFailures': 3, 'auth.loginWindow': '10m', trustProxy: '127.0.0.1' }, { clock });
    host = new URL(server.url).host;
    await server.hub.accounts.create({ name: 'alice', password: alice.secret });
    await server.hub.accounts.create({ name: 'bob', password: bob.secret });
    await server.hub.accounts.create({ name: 'root1', password: root.secret, admin: true });
    const token = await tokenFor(server.url, alice, ['repository:alice/public:pull,push', 'repository:alice/private:pull,push']);
    await pushImage(server.url, 'alice/public', 'v1', { token });
    await pushImage(server.url, 'alice/private', 'v1', { token });
    await server.hub.repositories.setVisibility('alice/private', true);
  });
  after(() => server.stop());

  /** A client address of its own for each test that fails logins. */
  let addresses = 0;
  const from = () => ({ 'x-forwarded-for': `198.51.100.${++addresses}` });

  describe('GET', () => {
    it('answers an anonymous request without scope with an empty access list', async () => {
      const res = await tokenGet(server.url, {});
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.body.token, res.body.access_token);
      assert.equal(res.body.expires_in, 300);
      assert.equal(res.body.issued_at, new Date(clock.now()).toISOString());
      assert.equal(res.body.refresh_token, undefined);
      const claims = jwtPayload(res.body.token as string);
      assert.deepEqual(claims.access, []);
      assert.equal(claims.sub, '');
      assert.equal(claims.iss, 'pier');
      assert.equal(claims.aud, 'pier');
      assert.equal(claims.iat, Math.floor(clock.now() / 1000));
      assert.equal(claims.nbf, claims.iat);
      assert.equal(claims.exp, (claims.iat as number) + 300);
      assert.equal(typeof claims.jti, 'string');
    });

    it('gives anonymous callers pull on public repositories only, never an error', async () => {
      const res = await tokenGet(server.url, {
        scopes: ['repository:alice/public:pull,push', 'repository:alice/private:pull', 'repository:alice/missing:pull'],
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(jwtPayload(res.body.token as string).access, [{ type: 'repository', name: 'alice/public', actions: ['pull'] }]);
    });

    it('grants an account the intersection of what it asked and what it may do, for repeated scopes', async () => {
      const res = await tokenGet(server.url, {
        login: bob,
        scopes: ['repository:bob/new:pull,push,delete', 'repository:alice/public:pull,push', 'repository:alice/private:pull', 'registry:catalog:*'],
      });
      assert.equal(res.status, 200, res.text);
      const claims = jwtPayload(res.body.token as string);
      assert.equal(claims.sub, 'bob');
      assert.deepEqual(claims.access, [
        { type: 'repository', name: 'bob/new', actions: ['pull', 'push', 'delete'] },
        { type: 'repository', name: 'alice/public', actions: ['pull'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ]);
    });

    it('reads a one-part name as an official image (library/...), which only an administrator may push', async () => {
      const user = await tokenGet(server.url, { login: alice, scopes: ['repository:nginx:pull,push'] });
      assert.deepEqual(jwtPayload(user.body.token as string).access, []);
      const admin = await tokenGet(server.url, { login: root, scopes: ['repository:nginx:pull,push'] });
      assert.deepEqual(jwtPayload(admin.body.token as string).access, [{ type: 'repository', name: 'library/nginx', actions: ['pull', 'push'] }]);
    });

    it('splits actions at the last colon: a name with this registry host:port means the repository; another host is dropped', async () => {
      const res = await tokenGet(server.url, {
        login: alice,
        scopes: [`repository:${host}/alice/app:pull,push`, 'repository:registry.example:5000/alice/other:pull', 'repository:Not_Valid:pull', 'registry:other:*'],
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(jwtPayload(res.body.token as string).access, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
    });

    it('merges scopes that name one repository', async () => {
      const res = await tokenGet(server.url, { login: alice, scopes: ['repository:alice/app:pull', 'repository:alice/app:push', 'repository:alice/app:pull'] });
      assert.deepEqual(jwtPayload(res.body.token as string).access, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
    });

    it('accepts the user name in any case', async () => {
      const res = await tokenGet(server.url, { login: { username: 'Alice', secret: alice.secret }, scopes: ['repository:alice/app:pull'] });
      assert.equal(res.status, 200, res.text);
      assert.equal(jwtPayload(res.body.token as string).sub, 'alice');
    });

    it('ignores `account` and `client_id` for the subject: the credentials decide', async () => {
      const res = await tokenGet(server.url, { login: bob, account: 'alice', clientId: 'docker', scopes: ['repository:alice/private:pull'] });
      assert.equal(res.status, 200, res.text);
      assert.equal(jwtPayload(res.body.token as string).sub, 'bob');
      assert.deepEqual(jwtPayload(res.body.token as string).access, []);
    });

    it('refuses a service that is not this registry\'s', async () => {
      const res = await tokenGet(server.url, { service: 'registry.docker.io', scopes: ['repository:alice/public:pull'] });
      assert.equal(res.status, 400);
      assert.match(String(res.body.details), /"pier"/);
    });

    it('signs with a key published at /token/jwks', async () => {
      const res = await tokenGet(server.url, { login: alice, scopes: ['repository:alice/app:pull'] });
      const jwks = await fetch(`${server.url}/token/jwks`);
      assert.equal(jwks.status, 200);
      const set = (await jwks.json()) as { keys: Array<Record<string, unknown>> };
      assert.ok(set.keys.length >= 1);
      for (const key of set.keys) assert.equal(key.d, undefined, 'no private key material');
      const { payload, protectedHeader } = await jwtVerify(res.body.token as string, createLocalJWKSet(set as never), {
        issuer: 'pier',
        audience: 'pier',
        currentDate: new Date(clock.now()),
      });
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(payload.sub, 'alice');
    });
  });

  describe('POST (OAuth2)', () => {
    it('takes grant_type=password with several space-separated scopes in one field', async () => {
      const res = await tokenPost(server.url, {
        grant_type: 'password',
        username: 'alice',
        password: alice.secret,
        scope: 'repository:alice/app:pull,push repository:alice/private:pull repository:bob/app:push',
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.token, res.body.access_token);
      assert.equal(res.body.refresh_token, undefined, 'no refresh token unless access_type=offline');
      assert.deepEqual(jwtPayload(res.body.access_token as string).access, [
        { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
        { type: 'repository', name: 'alice/private', actions: ['pull'] },
      ]);
    });

    it('takes repeated scope fields too', async () => {
      const body = new URLSearchParams({ grant_type: 'password', username: 'alice', password: alice.secret, service: 'pier' });
      body.append('scope', 'repository:alice/a:pull');
      body.append('scope', 'repository:alice/b:push');
      const res = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
      assert.equal(res.status, 200);
      const json = (await res.json()) as { token: string };
      assert.deepEqual(
        (jwtPayload(json.token).access as Array<{ name: string }>).map((a) => a.name),
        ['alice/a', 'alice/b'],
      );
    });

    it('answers wrong credentials with 401 and no Basic challenge', async () => {
      const res = await tokenPost(server.url, { grant_type: 'password', username: 'alice', password: 'wrong-password' }, from());
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), null);
      assert.deepEqual(res.body.errors, [{ code: 'UNAUTHORIZED', message: 'incorrect username, password or token' }]);
      assert.equal(res.body.details, 'incorrect username, password or token');
      assert.equal(res.body.error, 'invalid_grant');
    });

    it('refuses other grant types, a missing field and a body that is not a form', async () => {
      assert.equal((await tokenPost(server.url, { grant_type: 'client_credentials' })).status, 400);
      assert.equal((await tokenPost(server.url, { grant_type: 'password', username: 'alice' })).status, 400);
      assert.equal((await tokenPost(server.url, { grant_type: 'refresh_token' })).status, 400);
      const json = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":"password"}' });
      assert.equal(json.status, 400);
      const big = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=password&scope=${'x'.repeat(100_000)}`,
      });
      assert.equal(big.status, 413);
      assert.ok(((await big.json()) as { errors: unknown[] }).errors);
    });
  });

  describe('wrong credentials', () => {
    it('answers 401 with the same body for an unknown user, a wrong password, and bad, revoked or expired tokens', async () => {
      const pat = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:read'] });
      const revoked = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'old', scopes: ['repo:read'] });
      await server.hub.tokens.revokePersonalAccessToken('alice', revoked.info.id);
      const expiring = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'soon', scopes: ['repo:read'], expiresAt: clock.now() + 1000 });
      const refresh = await server.hub.tokens.createRefreshToken('alice', 'docker');
      clock.advance(1001);
      const cases: Array<[string, Login]> = [
        ['unknown user', { username: 'nobody', secret: 'whatever-password' }],
        ['wrong password', { username: 'alice', secret: 'not-her-password' }],
        ['revoked token', { username: 'alice', secret: revoked.token }],
        ['expired token', { username: 'alice', secret: expiring.token }],
        ["another user's token", { username: 'bob', secret: pat.token }],
        ["another user's refresh token", { username: 'bob', secret: refresh }],
        ['a made-up token', { username: 'alice', secret: `pier_pat_${'A'.repeat(43)}` }],
      ];
      const bodies = new Set<string>();
      for (const [label, login] of cases) {
        const res = await tokenGet(server.url, { login, scopes: ['repository:alice/public:pull'], headers: from() });
        assert.equal(res.status, 401, label);
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="pier"', label);
        bodies.add(res.text);
      }
      assert.equal(bodies.size, 1, [...bodies].join('\n'));
      assert.deepEqual(JSON.parse([...bodies][0]!), {
        errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username, password or token' }],
        details: 'incorrect username, password or token',
        error: 'invalid_grant',
        error_description: 'incorrect username, password or token',
      });
    });

    it('treats a malformed Basic header as wrong credentials, not as anonymous', async () => {
      for (const value of ['Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from('alice:').toString('base64')}`]) {
        const res = await fetch(`${server.url}/token?service=pier`, { headers: { authorization: value, ...from() } });
        assert.equal(res.status, 401, value);
        await res.arrayBuffer();
      }
    });
  });

  describe('throttle', () => {
    it('answers 429 with Retry-After after too many failures, for that account from that address only', async () => {
      const attacker = { 'x-forwarded-for': '203.0.113.66' };
      for (let i = 0; i < 3; i++) {
        const res = await tokenGet(server.url, { login: { username: 'bob', secret: `guess-${i}-password` }, headers: attacker });
        assert.equal(res.status, 401);
      }
      clock.advance(60_000);
      const blocked = await tokenGet(server.url, { login: bob, headers: attacker });
      assert.equal(blocked.status, 429);
      assert.equal(blocked.headers.get('retry-after'), String(9 * 60));
      assert.equal((blocked.body.errors as Array<{ code: string }>)[0]!.code, 'TOOMANYREQUESTS');
      assert.match(String(blocked.body.details), /too many failed logins/);
      // the POST form is throttled alike
      const post = await tokenPost(server.url, { grant_type: 'password', username: 'bob', password: bob.secret }, attacker);
      assert.equal(post.status, 429);
      assert.equal(post.headers.get('retry-after'), String(9 * 60));

      // bob from his own address, and alice from the attacker's, are not locked out
      assert.equal((await tokenGet(server.url, { login: bob, headers: { 'x-forwarded-for': '192.0.2.10' } })).status, 200);
      assert.equal((await tokenGet(server.url, { login: alice, headers: attacker })).status, 200);
      // anonymous requests are never throttled
      assert.equal((await tokenGet(server.url, { headers: attacker })).status, 200);

      clock.advance(9 * 60_000);
      assert.equal((await tokenGet(server.url, { login: bob, headers: attacker })).status, 200);
    });

    it('forgets failures after a successful login', async () => {
      const address = from();
      for (let i = 0; i < 2; i++) assert.equal((await tokenGet(server.url, { login: { username: 'bob', secret: 'wrong-password' }, headers: address })).status, 401);
      assert.equal((await tokenGet(server.url, { login: bob, headers: address })).status, 200);
      for (let i = 0; i < 2; i++) assert.equal((await tokenGet(server.url, { login: { username: 'bob', secret: 'wrong-password' }, headers: address })).status, 401);
      assert.equal((await tokenGet(server.url, { login: bob, headers: address })).status, 200);
    });
  });

  describe('personal access tokens', () => {
    const cases: Array<[string, string[]]> = [
      ['repo:read', ['pull']],
      ['repo:write', ['pull', 'push']],
      ['repo:delete', ['pull', 'delete']],
      ['repo:admin', ['pull', 'push', 'delete']],
    ];
    for (const [scope, actions] of cases) {
      it(`are a password with ${scope}: ${actions.join(',')} in the owner's namespace, pull of public elsewhere`, async () => {
        const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: scope, scopes: [scope] });
        const res = await tokenGet(server.url, {
          login: { username: 'alice', secret: token },
          scopes: ['repository:alice/app:pull,push,delete', 'repository:bob/app:pull,push', 'repository:alice/public:pull,push,delete'],
          offline: true,
        });
        assert.equal(res.status, 200, res.text);
        const claims = jwtPayload(res.body.token as string);
        assert.equal(claims.sub, 'alice');
        assert.deepEqual(claims.access, [
          { type: 'repository', name: 'alice/app', actions },
          { type: 'repository', name: 'alice/public', actions },
        ]);
        assert.equal(res.body.refresh_token, undefined, 'a PAT never opens a session: a refresh token would lose its scopes');
      });
    }

    it('never grant more than the owner has', async () => {
      const { token } = await server.hub.tokens.createPersonalAccessToken('bob', { label: 'all', scopes: ['repo:admin'] });
      const res = await tokenGet(server.url, { login: { username: 'bob', secret: token }, scopes: ['repository:alice/public:push,delete', 'repository:alice/private:pull'] });
      assert.deepEqual(jwtPayload(res.body.token as string).access, []);
    });

    it('once revoked, are refused at the next token request (an access token already issued lives on until it expires)', async () => {
      const { token, info } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'revoke-me', scopes: ['repo:read'] });
      const login = { username: 'alice', secret: token };
      const access = await tokenFor(server.url, login, ['repository:alice/private:pull']);
      assert.ok(await server.hub.tokens.revokePersonalAccessToken('alice', info.id));
      assert.equal((await tokenGet(server.url, { login, scopes: ['repository:alice/private:pull'], headers: from() })).status, 401);
      const res = await fetch(`${server.url}/v2/alice/private/tags/list`, { headers: bearer(access) });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });
  });

  describe('refresh tokens', () => {
    it('come with offline_token=true on a password login, and are not rotated when used', async () => {
      const login = await tokenGet(server.url, { login: alice, offline: true, clientId: 'docker' });
      assert.equal(login.status, 200, login.text);
      const refresh = login.body.refresh_token as string;
      assert.match(refresh, /^pier_rt_/);
      const sessions = await server.hub.tokens.listRefreshTokens('alice');
      assert.ok(sessions.some((s) => s.clientId === 'docker'));

      for (let i = 0; i < 2; i++) {
        const res = await tokenPost(server.url, { grant_type: 'refresh_token', refresh_token: refresh, scope: 'repository:alice/private:pull' });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.refresh_token, undefined);
        assert.deepEqual(jwtPayload(res.body.token as string).access, [{ type: 'repository', name: 'alice/private', actions: ['pull'] }]);
        const tags = await fetch(`${server.url}/v2/alice/private/tags/list`, { headers: bearer(res.body.token as string) });
        assert.equal(tags.status, 200);
        await tags.arrayBuffer();
      }
      // asked offline again: the same refresh token, never a new one
      const again = await tokenPost(server.url, { grant_type: 'refresh_token', refresh_token: refresh, access_type: 'offline' });
      assert.equal(again.body.refresh_token, refresh);
      assert.equal((await server.hub.tokens.listRefreshTokens('alice')).length, sessions.length);
    });

    it('come with access_type=offline on the POST password grant, and work as a Basic password too', async () => {
      const login = await tokenPost(server.url, { grant_type: 'password', username: 'bob', password: bob.secret, access_type: 'offline' });
      assert.equal(login.status, 200, login.text);
      const refresh = login.body.refresh_token as string;
      assert.match(refresh, /^pier_rt_/);
      const res = await tokenGet(server.url, { login: { username: 'bob', secret: refresh }, scopes: ['repository:bob/app:push'], offline: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.refresh_token, refresh);
      assert.deepEqual(jwtPayload(res.body.token as string).access, [{ type: 'repository', name: 'bob/app', actions: ['push'] }]);
    });

    it('are refused once revoked', async () => {
      const login = await tokenGet(server.url, { login: bob, offline: true });
      const refresh = login.body.refresh_token as string;
      const [session] = (await server.hub.tokens.listRefreshTokens('bob')).slice(-1);
      assert.ok(await server.hub.tokens.revokeRefreshToken('bob', session!.id));
      const res = await tokenPost(server.url, { grant_type: 'refresh_token', refresh_token: refresh });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_grant');
    });

    it('are not issued to anonymous callers', async () => {
      const res = await tokenGet(server.url, { offline: true });
      assert.equal(res.status, 200);
      assert.equal(res.body.refresh_token, undefined);
    });
  });

  it('does not answer /v2 with Basic credentials: a Bearer challenge, always', async () => {
    const res = await fetch(`${server.url}/v2/alice/public/tags/list`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-password-1').toString('base64')}` } });
    assert.equal(res.status, 401);
    assert.equal(parseChallenge(res.headers.get('www-authenticate')).scheme, 'Bearer');
    await res.arrayBuffer();
  });
});
