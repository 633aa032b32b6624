import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';

interface User {
  username: string;
  email: string | null;
  admin: boolean;
  default_private: boolean;
  created_at: string;
  plan: string;
}

describe('/api/v1 accounts: sign-up, sign-in, me, password, deletion', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
    await createUser(server, 'boss', { admin: true });
  });
  after(() => server.stop());

  describe('POST /users (sign-up)', () => {
    it('creates an account: 201 with the user, never the password', async () => {
      const res = await server.api('/users', { method: 'POST', json: { username: 'alice', password: PASSWORD, email: 'alice@example.com' } });
      const user = await expectJson<User>(res, 201);
      assert.deepEqual({ ...user, created_at: undefined }, { username: 'alice', email: 'alice@example.com', admin: false, default_private: false, created_at: undefined, plan: 'free' });
      assert.ok(!Number.isNaN(Date.parse(user.created_at)));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(!JSON.stringify(user).includes(PASSWORD));
    });

    it('accepts no email, or a null one', async () => {
      await expectJson(await server.api('/users', { method: 'POST', json: { username: 'noemail', password: PASSWORD } }), 201);
      const user = await expectJson<User>(await server.api('/users', { method: 'POST', json: { username: 'nullemail', password: PASSWORD, email: null } }), 201);
      assert.equal(user.email, null);
    });

    it('refuses a taken name with 409', async () => {
      await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'alice', password: PASSWORD } }), 409, /taken/);
    });

    it('refuses bad names, passwords and emails with 400 and the reason', async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ username: 'Alice', password: PASSWORD }, /lowercase/],
        [{ username: 'a', password: PASSWORD }, /2 to 30/],
        [{ username: 'x'.repeat(31), password: PASSWORD }, /2 to 30/],
        [{ username: 'bad--', password: PASSWORD }, /lowercase/],
        [{ username: 'library', password: PASSWORD }, /reserved/],
        [{ username: 'v2', password: PASSWORD }, /reserved/],
        [{ username: 'li-brary', password: PASSWORD }, /reserved/],
        [{ username: 'shorty', password: 'short' }, /too short/],
        [{ username: 'longpw', password: 'p'.repeat(300) }, /too long/],
        [{ username: 'bademail', password: PASSWORD, email: 'not an email' }, /email/],
        [{ username: 'nopw' }, /^password: /],
        [{ username: 42, password: PASSWORD }, /^username: /],
        [{ username: 'extra', password: PASSWORD, admin: true }, /unknown field: admin/],
      ];
      for (const [json, detail] of cases) {
        await expectProblem(await server.api('/users', { method: 'POST', json }), 400, detail);
      }
    });

    it('names every wrong field of a body in the validation problem', async () => {
      const problem = await expectProblem(await server.api('/users', { method: 'POST', json: { username: 42, admin: true } }), 400, undefined, 'validation');
      assert.deepEqual(
        problem.errors?.map((e) => e.field).sort(),
        ['admin', 'password', 'username'],
      );
      assert.equal(problem.errors?.find((e) => e.field === 'admin')?.message, 'unknown field');
    });

    it('refuses bodies that are not a JSON object', async () => {
      await expectProblem(await server.api('/users', { method: 'POST', body: '{"username":', headers: { 'content-type': 'application/json' } }), 400);
      await expectProblem(await server.api('/users', { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } }), 400, /JSON object/);
      await expectProblem(await server.api('/users', { method: 'POST', body: '', headers: { 'content-type': 'application/json' } }), 400);
      await expectProblem(await server.api('/users', { method: 'POST' }), 400, /JSON object/);
      await expectProblem(await server.api('/users', { method: 'POST', body: 'username=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, /application\/json/);
      await expectProblem(
        await server.api('/users', { method: 'POST', body: '{"__proto__": {"admin": true}, "username": "proto", "password": "xxxxxxxxxx"}', headers: { 'content-type': 'application/json' } }),
        400,
      );
      await expectProblem(await server.api('/users', { method: 'POST', body: JSON.stringify({ username: 'big', password: 'x'.repeat(70_000) }), headers: { 'content-type': 'application/json' } }), 413);
    });

    it('is refused with 403 while sign-up is closed, except for an administrator', async () => {
      await server.hub.settings.set('signupOpen', false);
      try {
        await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'closed', password: PASSWORD } }), 403, /sign-up is closed/);
        await expectProblem(
          await server.api('/users', { method: 'POST', json: { username: 'closed', password: PASSWORD }, auth: { basic: ['alice', PASSWORD] } }),
          403,
          /sign-up is closed/,
        );
        await expectJson(await server.api('/users', { method: 'POST', json: { username: 'closed', password: PASSWORD }, auth: { basic: ['boss', PASSWORD] } }), 201);
      } finally {
        await server.hub.settings.set('signupOpen', true);
      }
    });
  });

  describe('POST /users/login', () => {
    it('answers a session token for the API, refused by /v2-style audiences', async () => {
      await createUser(server, 'carol');
      const res = await server.api('/users/login', { method: 'POST', json: { username: 'carol', password: PASSWORD } });
      const body = await expectJson<{ token: string; expires_in: number }>(res, 200);
      assert.equal(body.expires_in, 3600);
      const claims = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      assert.equal(claims.sub, 'carol');
      assert.equal(claims.aud, `${server.auth!.service}/api`);
      const me = await expectJson<User>(await server.api('/users/me', { auth: { bearer: body.token } }), 200);
      assert.equal(me.username, 'carol');

      // a registry access token (audience: the service) is no API session
      const registryToken = await server.auth!.keyRing.sign({ access: [] }, { expiresInSeconds: 300, issuer: server.auth!.issuer, audience: server.auth!.service, subject: 'carol' });
      await expectProblem(await server.api('/users/me', { auth: { bearer: registryToken } }), 401, /sign in again/);
    });

    it('says only that the credentials were wrong, for a wrong password and for an unknown name alike', async () => {
      const wrong = await expectProblem(await server.api('/users/login', { method: 'POST', json: { username: 'alice', password: 'wrong password' } }), 401);
      const unknown = await expectProblem(await server.api('/users/login', { method: 'POST', json: { username: 'nobody', password: 'wrong password' } }), 401);
      assert.equal(wrong.detail, 'incorrect username or password');
      assert.equal(unknown.detail, wrong.detail);
    });

    it('throttles failed logins per account and address: 429 with Retry-After, then free again', async () => {
      await createUser(server, 'victim');
      for (let i = 0; i < 5; i++) {
        await expectProblem(await server.api('/users/login', { method: 'POST', json: { username: 'victim', password: `guess ${i}` } }), 401);
      }
      const res = await server.api('/users/login', { method: 'POST', json: { username: 'victim', password: PASSWORD } });
      const retryAfter = Number(res.headers.get('retry-after'));
      await expectProblem(res, 429, /too many/);
      assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
      // Basic credentials on any endpoint count against the same budget
      await expectProblem(await server.api('/users/me', { auth: { basic: ['victim', PASSWORD] } }), 429);
      // other accounts from this address are not affected
      await expectJson(await server.api('/users/me', { auth: { basic: ['alice', PASSWORD] } }), 200);
      server.advance(15 * 60_000 + 1000);
      await signIn(server, 'victim');
    });

    it('takes a password, not a personal access token', async () => {
      const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'x', scopes: ['repo:read'] });
      await expectProblem(await server.api('/users/login', { method: 'POST', json: { username: 'alice', password: token } }), 403, /does not start a session/);
    });
  });

  describe('API credentials', () => {
    it('GET /users/me with a session, Basic password, Basic PAT and Bearer PAT; 401 without or with bad ones', async () => {
      const session = await signIn(server, 'alice');
      const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'me', scopes: ['repo:read'] });
      for (const auth of [{ bearer: session }, { basic: ['alice', PASSWORD] as [string, string] }, { basic: ['alice', token] as [string, string] }, { bearer: token }]) {
        const me = await expectJson<User>(await server.api('/users/me', { auth }), 200);
        assert.equal(me.username, 'alice');
      }
      const anonymous = await server.api('/users/me');
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
      await expectProblem(anonymous, 401);
      await expectProblem(await server.api('/users/me', { auth: { bearer: 'not.a.jwt' } }), 401, /not valid/);
      await expectProblem(await server.api('/users/me', { auth: { bearer: `${session.slice(0, -4)}AAAA` } }), 401);
      await expectProblem(await server.api('/users/me', { auth: { basic: ['boss', token] } }), 401, /incorrect username or password/);
      await expectProblem(await server.api('/users/me', { auth: { basic: ['alice', 'wrong password'] } }), 401, /incorrect username or password/);
      await expectProblem(await server.api('/users/me', { headers: { authorization: 'Digest x' } }), 401, /Bearer or Basic/);
      await expectProblem(await server.api('/users/me', { headers: { authorization: 'Basic bm9jb2xvbg==' } }), 401, /malformed/);
    });

    it('a session expires', async () => {
      const session = await signIn(server, 'alice');
      server.advance(3600_000 + 120_000);
      await expectProblem(await server.api('/users/me', { auth: { bearer: session } }), 401, /sign in again/);
    });
  });

  describe('PATCH /users/me', () => {
    it('sets default_private, which a first push then uses', async () => {
      await createUser(server, 'patcher');
      const user = await expectJson<User>(await server.api('/users/me', { method: 'PATCH', json: { default_private: true }, auth: { basic: ['patcher', PASSWORD] } }), 200);
      assert.equal(user.default_private, true);
      await pushImage(server.registry, 'patcher/app', 'latest');
      assert.deepEqual(await server.hub.repositories.visibility('patcher/app'), { exists: true, private: true });
    });

    it('refuses an empty change, unknown fields, wrong types, and a PAT', async () => {
      const auth = { basic: ['patcher', PASSWORD] as [string, string] };
      await expectProblem(await server.api('/users/me', { method: 'PATCH', json: {}, auth }), 400, /nothing to change/);
      await expectProblem(await server.api('/users/me', { method: 'PATCH', json: { admin: true }, auth }), 400, /unknown field/);
      await expectProblem(await server.api('/users/me', { method: 'PATCH', json: { default_private: 'yes' }, auth }), 400, /default_private/);
      const { token } = await server.hub.tokens.createPersonalAccessToken('patcher', { label: 'x', scopes: ['repo:admin'] });
      await expectProblem(await server.api('/users/me', { method: 'PATCH', json: { default_private: false }, auth: { bearer: token } }), 403, /personal access token/);
      await expectProblem(await server.api('/users/me', { method: 'PATCH', json: { default_private: false } }), 401);
    });
  });

  describe('PUT /users/me/password', () => {
    it('checks the current password, ends earlier sessions and docker logins, answers a new session', async () => {
      await createUser(server, 'changer');
      const oldSession = await signIn(server, 'changer');
      const refresh = await server.hub.tokens.createRefreshToken('changer', 'docker');
      const before = await expectJson<{ count: number }>(await server.api('/users/me/sessions', { auth: { bearer: oldSession } }), 200);
      assert.equal(before.count, 1);

      await expectProblem(
        await server.api('/users/me/password', { method: 'PUT', json: { current_password: 'wrong password', new_password: 'new password 1' }, auth: { bearer: oldSession } }),
        403,
        /current_password/,
      );
      await expectProblem(
        await server.api('/users/me/password', { method: 'PUT', json: { current_password: PASSWORD, new_password: 'short' }, auth: { bearer: oldSession } }),
        400,
        /too short/,
      );
      server.advance(5); // a change in the same millisecond as the refresh token would keep it
      const res = await server.api('/users/me/password', { method: 'PUT', json: { current_password: PASSWORD, new_password: 'new password 1' }, auth: { bearer: oldSession } });
      const { token: newSession } = await expectJson<{ token: string }>(res, 200);

      await expectProblem(await server.api('/users/me', { auth: { bearer: oldSession } }), 401, /session has ended/);
      await expectJson(await server.api('/users/me', { auth: { bearer: newSession } }), 200);
      assert.equal(await server.hub.tokens.authenticateRefreshToken(refresh), undefined, 'docker login ended');
      const after = await expectJson<{ count: number }>(await server.api('/users/me/sessions', { auth: { bearer: newSession } }), 200);
      assert.equal(after.count, 0);
      await expectProblem(await server.api('/users/me', { auth: { basic: ['changer', PASSWORD] } }), 401);
      await expectJson(await server.api('/users/me', { auth: { basic: ['changer', 'new password 1'] } }), 200);
    });

    it('is not for personal access tokens', async () => {
      const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'x', scopes: ['repo:admin'] });
      await expectProblem(
        await server.api('/users/me/password', { method: 'PUT', json: { current_password: PASSWORD, new_password: 'new password 2' }, auth: { bearer: token } }),
        403,
      );
    });
  });

  describe('DELETE /users/me', () => {
    it('needs the username as confirmation, and the password again in a session', async () => {
      await createUser(server, 'leaver');
      const session = await signIn(server, 'leaver');
      await expectProblem(await server.api('/users/me', { method: 'DELETE', json: {}, auth: { bearer: session } }), 400, /confirm/);
      await expectProblem(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'someone' }, auth: { bearer: session } }), 400, /"confirm": "leaver"/);
      await expectProblem(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'leaver' }, auth: { bearer: session } }), 400, /password/);
      await expectProblem(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'leaver', password: 'wrong password' }, auth: { bearer: session } }), 403, /not correct/);
      const { token } = await server.hub.tokens.createPersonalAccessToken('leaver', { label: 'x', scopes: ['repo:admin'] });
      await expectProblem(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'leaver' }, auth: { bearer: token } }), 403, /personal access token/);
      assert.ok(await server.hub.accounts.get('leaver'), 'still there');
    });

    it('deletes the account with its repositories; the name stays reserved', async () => {
      await createUser(server, 'gone');
      await pushImage(server.registry, 'gone/app', 'latest');
      await pushImage(server.registry, 'gone/team/tool', 'latest');
      await pushImage(server.registry, 'alice/kept', 'latest');
      const session = await signIn(server, 'gone');
      const { token } = await server.hub.tokens.createPersonalAccessToken('gone', { label: 'x', scopes: ['repo:read'] });
      const res = await server.api('/users/me', { method: 'DELETE', json: { confirm: 'gone', password: PASSWORD }, auth: { bearer: session } });
      const body = await expectJson<{ username: string; repositories: { results: string[]; count: number } }>(res, 200);
      assert.equal(body.username, 'gone');
      assert.deepEqual(body.repositories.results.sort(), ['gone/app', 'gone/team/tool']);
      assert.equal(body.repositories.count, 2);

      assert.deepEqual(await server.hub.repositories.visibility('gone/app'), { exists: false, private: false });
      assert.deepEqual(await server.hub.repositories.visibility('alice/kept'), { exists: true, private: false });
      await expectProblem(await server.api('/users/me', { auth: { bearer: session } }), 401);
      await expectProblem(await server.api('/users/me', { auth: { bearer: token } }), 401);
      await expectProblem(await server.api('/users/login', { method: 'POST', json: { username: 'gone', password: PASSWORD } }), 401);
      await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'gone', password: PASSWORD } }), 409, /taken/);
    });

    it('with Basic credentials the password was just given', async () => {
      await createUser(server, 'basicleaver');
      await expectJson(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'basicleaver' }, auth: { basic: ['basicleaver', PASSWORD] } }), 200);
      assert.equal(await server.hub.accounts.get('basicleaver'), undefined);
    });
  });

  it('answers unknown /api routes with a problem, and a method a path does not take with 405 and Allow', async () => {
    await expectProblem(await server.api('/nothing/here'), 404, /no such page/, 'not-found');
    const res = await server.api('/users/me/tokens', { method: 'PUT' });
    assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['GET', 'POST']);
    await expectProblem(res, 405, /PUT is not supported/, 'method-not-allowed');
    await expectProblem(await server.api('/users/me/nothing'), 404);
  });
});
