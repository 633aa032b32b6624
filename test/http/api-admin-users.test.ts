// Administration of accounts: GET /api/v1/users (paged, filtered), PATCH /users/{username}
// {admin}, PUT /users/{username}/password (ends that user's sessions and docker logins) and
// DELETE /users/{username}; only administrators, with the password or a session.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';
import { CookieBrowser } from '../support/cookie-browser.js';
import { testBackends } from '../support/server.js';

interface User {
  username: string;
  email: string | null;
  admin: boolean;
  default_private: boolean;
  created_at: string;
  plan: string;
}

interface Paged<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

for (const { backend, options } of await testBackends()) describe(`/api/v1 administration of users (${backend})`, options, () => {
  let server: ApiServer;
  let root: CookieBrowser;
  const boss = { basic: ['boss', PASSWORD] as [string, string] };

  before(async () => {
    server = await startApiServer({}, { backend });
    await createUser(server, 'boss', { admin: true });
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'mallory']) {
      await server.hub.accounts.create({ name, password: PASSWORD, email: `${name}@Example.org` });
    }
    await server.hub.organizations.create('acme', 'alice');
    root = new CookieBrowser(server.url);
    await root.signIn('boss');
  });
  after(() => server.stop());

  describe('GET /users', () => {
    it('pages users by name with {count, next, previous, results}; following next visits every user once', async () => {
      const first = await expectJson<Paged<User>>(await server.api('/users?page_size=3', { auth: boss }), 200);
      assert.equal(first.count, 7, 'users only: the organisation is not listed');
      assert.deepEqual(first.results.map((u) => u.username), ['alice', 'bob', 'boss']);
      assert.equal(first.previous, null);
      assert.equal(first.next, '/api/v1/users?page_size=3&page=2');
      assert.deepEqual(Object.keys(first.results[0]!).sort(), ['admin', 'created_at', 'default_private', 'email', 'plan', 'username']);
      assert.deepEqual([first.results[2]!.admin, first.results[2]!.plan], [true, 'free']);

      const seen: string[] = [];
      let next: string | null = '/api/v1/users?page_size=3';
      while (next) {
        const page: Paged<User> = await expectJson<Paged<User>>(await root.fetch(next), 200);
        seen.push(...page.results.map((u) => u.username));
        next = page.next;
      }
      assert.deepEqual(seen, ['alice', 'bob', 'boss', 'carol', 'dave', 'erin', 'mallory']);
      const last = await expectJson<Paged<User>>(await server.api('/users?page_size=3&page=3', { auth: boss }), 200);
      assert.deepEqual([last.next, last.previous], [null, '/api/v1/users?page_size=3&page=2']);
    });

    it('filters by name or email with q, and refuses a wrong page or page size', async () => {
      const byName = await expectJson<Paged<User>>(await server.api('/users?q=AR', { auth: boss }), 200);
      assert.deepEqual(byName.results.map((u) => u.username), ['carol']);
      const byEmail = await expectJson<Paged<User>>(await server.api('/users?q=example.ORG&page_size=2', { auth: boss }), 200);
      assert.equal(byEmail.count, 6);
      assert.equal(byEmail.next, '/api/v1/users?q=example.ORG&page_size=2&page=2');
      assert.equal((await expectJson<Paged<User>>(await server.api('/users?q=%25', { auth: boss }), 200)).count, 0, 'a % is a character');
      await expectProblem(await server.api('/users?page=0', { auth: boss }), 400, /^page: /, 'validation');
      await expectProblem(await server.api('/users?page_size=101', { auth: boss }), 400, /^page_size: /, 'validation');
      await expectProblem(await server.api('/users?page_size=ten', { auth: boss }), 400, /page_size/);
    });
  });

  describe('PATCH /users/{username}', () => {
    it('makes a user an administrator and back; the last administrator stays one', async () => {
      const promoted = await expectJson<User>(await root.api('/users/carol', { method: 'PATCH', json: { admin: true } }), 200);
      assert.equal(promoted.admin, true);
      await expectJson(await server.api('/users', { auth: { basic: ['carol', PASSWORD] } }), 200);
      await expectJson<User>(await server.api('/users/boss', { method: 'PATCH', json: { admin: false }, auth: { basic: ['carol', PASSWORD] } }), 200);
      await expectProblem(await server.api('/users', { auth: boss }), 403, /administrator/, 'forbidden');
      await expectProblem(await server.api('/users/carol', { method: 'PATCH', json: { admin: false }, auth: { basic: ['carol', PASSWORD] } }), 409, /last administrator/, 'conflict');
      await expectJson(await server.api('/users/boss', { method: 'PATCH', json: { admin: true }, auth: { basic: ['carol', PASSWORD] } }), 200);
      const demoted = await expectJson<User>(await root.api('/users/carol', { method: 'PATCH', json: { admin: false } }), 200);
      assert.equal(demoted.admin, false);
    });

    it('answers 404 for an organisation or an unknown name, 400 for an empty change', async () => {
      await expectProblem(await server.api('/users/acme', { method: 'PATCH', json: { admin: true }, auth: boss }), 404, /no user "acme"/, 'not-found');
      await expectProblem(await server.api('/users/nobody', { method: 'PATCH', json: { admin: true }, auth: boss }), 404);
      await expectProblem(await server.api('/users/bob', { method: 'PATCH', json: {}, auth: boss }), 400, /nothing to change/);
      await expectProblem(await server.api('/users/bob', { method: 'PATCH', json: { admin: 'yes' }, auth: boss }), 400, /^admin: /);
      await expectProblem(await server.api('/users/bob', { method: 'PATCH', json: { admin: true, email: 'x@y.z' }, auth: boss }), 400, /unknown field: email/);
    });
  });

  describe('PUT /users/{username}/password', () => {
    it('resets the password: the user’s browser sessions, session tokens and docker logins end; personal access tokens stay', async () => {
      const browser = new CookieBrowser(server.url);
      await browser.signIn('dave');
      const jwt = await signIn(server, 'dave');
      const refresh = await server.hub.tokens.createRefreshToken('dave', 'docker');
      const { token: pat } = await server.hub.tokens.createPersonalAccessToken('dave', { label: 'ci', scopes: ['repo:read'] });
      server.advance(5);
      const res = await root.api('/users/dave/password', { method: 'PUT', json: { new_password: 'reset by boss 1' } });
      assert.equal(res.status, 204, await res.text());
      await expectProblem(await browser.api('/users/me'), 401, /session has ended/);
      await expectProblem(await server.api('/users/me', { auth: { bearer: jwt } }), 401, /session has ended/);
      assert.equal(await server.hub.tokens.authenticateRefreshToken(refresh), undefined, 'docker login ended');
      await expectJson(await server.api('/users/me', { auth: { bearer: pat } }), 200);
      await expectProblem(await server.api('/users/me', { auth: { basic: ['dave', PASSWORD] } }), 401);
      await expectJson(await server.api('/users/me', { auth: { basic: ['dave', 'reset by boss 1'] } }), 200);
      await expectJson(await root.api('/users/me'), 200);
    });

    it('checks the new password and the name', async () => {
      await expectProblem(await server.api('/users/dave/password', { method: 'PUT', json: { new_password: 'short' }, auth: boss }), 400, /too short/);
      await expectProblem(await server.api('/users/dave/password', { method: 'PUT', json: {}, auth: boss }), 400, /^new_password: /);
      await expectProblem(await server.api('/users/acme/password', { method: 'PUT', json: { new_password: 'an org never signs in' }, auth: boss }), 404);
      await expectProblem(await server.api('/users/nobody/password', { method: 'PUT', json: { new_password: 'nobody is here' }, auth: boss }), 404);
    });
  });

  describe('DELETE /users/{username}', () => {
    it('deletes a user with their repositories; their cookie stops working; the name stays reserved', async () => {
      const browser = new CookieBrowser(server.url);
      await browser.signIn('mallory');
      await pushImage(server.registry, 'mallory/app', 'latest');
      await expectProblem(await root.api('/users/mallory', { method: 'DELETE', csrf: false }), 403, undefined, 'csrf');
      const deleted = await expectJson<{ username: string; repositories: { count: number; results: string[] } }>(await root.api('/users/mallory', { method: 'DELETE' }), 200);
      assert.deepEqual(deleted, { username: 'mallory', repositories: { count: 1, results: ['mallory/app'] } });
      await expectProblem(await browser.api('/users/me'), 401, /session has ended/);
      await expectProblem(await root.api('/users/mallory', { method: 'DELETE' }), 404);
      await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'mallory', password: PASSWORD }, auth: boss }), 409, /taken/);
    });

    it('refuses the caller’s own account, an organisation, and the last owner of an organisation', async () => {
      await expectProblem(await root.api('/users/boss', { method: 'DELETE' }), 403, /DELETE \/api\/v1\/users\/me/, 'forbidden');
      await expectProblem(await root.api('/users/acme', { method: 'DELETE' }), 404, /no user/);
      await expectProblem(await root.api('/users/alice', { method: 'DELETE' }), 409, /owner/, 'conflict');
    });
  });

  it('is for administrators only, with the password or a session: not a token, not a user', async () => {
    const { token: adminPat } = await server.hub.tokens.createPersonalAccessToken('boss', { label: 'ci', scopes: ['repo:admin'] });
    const bobBrowser = new CookieBrowser(server.url);
    await bobBrowser.signIn('bob');
    const requests: Array<[string, string, unknown]> = [
      ['GET', '/users', undefined],
      ['PATCH', '/users/erin', { admin: true }],
      ['PUT', '/users/erin/password', { new_password: 'never set this 1' }],
      ['DELETE', '/users/erin', undefined],
    ];
    for (const [method, path, json] of requests) {
      await expectProblem(await server.api(path, { method, json }), 401, undefined, 'unauthorized');
      await expectProblem(await server.api(path, { method, json, auth: { bearer: adminPat } }), 403, /personal access token/, 'forbidden');
      await expectProblem(await server.api(path, { method, json, auth: { basic: ['bob', PASSWORD] } }), 403, /administrator/, 'forbidden');
      await expectProblem(await bobBrowser.api(path, { method, json }), 403, /administrator/, 'forbidden');
    }
    await expectJson(await server.api('/users/me', { auth: { basic: ['erin', PASSWORD] } }), 200);
  });
});
