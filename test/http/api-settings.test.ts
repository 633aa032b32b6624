import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';

describe('/api/v1/settings', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
    await createUser(server, 'boss', { admin: true });
    await createUser(server, 'alice');
  });
  after(() => server.stop());

  it('anyone reads them: the defaults are open sign-up and public pulls', async () => {
    assert.deepEqual(await expectJson(await server.api('/settings'), 200), { signup_open: true, pull_requires_login: false });
  });

  it('an administrator changes them, with a password or a session; sign-up then closes at once', async () => {
    const session = await signIn(server, 'boss');
    assert.deepEqual(await expectJson(await server.api('/settings', { method: 'PUT', json: { signup_open: false }, auth: { bearer: session } }), 200), {
      signup_open: false,
      pull_requires_login: false,
    });
    await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'newcomer', password: PASSWORD } }), 403, /closed/);
    assert.deepEqual(await expectJson(await server.api('/settings', { method: 'PUT', json: { signup_open: true, pull_requires_login: true }, auth: { basic: ['boss', PASSWORD] } }), 200), {
      signup_open: true,
      pull_requires_login: true,
    });
    assert.equal(await server.hub.settings.get('pullRequiresLogin'), true);
    await expectJson(await server.api('/users', { method: 'POST', json: { username: 'newcomer', password: PASSWORD } }), 201);
    await expectJson(await server.api('/settings', { method: 'PUT', json: { pull_requires_login: false }, auth: { bearer: session } }), 200);
  });

  it('nobody else: 401 anonymous, 403 for a user and for an administrator\'s token; 400 for a bad body', async () => {
    await expectProblem(await server.api('/settings', { method: 'PUT', json: { signup_open: false } }), 401);
    await expectProblem(await server.api('/settings', { method: 'PUT', json: { signup_open: false }, auth: { basic: ['alice', PASSWORD] } }), 403, /administrator/);
    const { token } = await server.hub.tokens.createPersonalAccessToken('boss', { label: 'x', scopes: ['repo:admin'] });
    await expectProblem(await server.api('/settings', { method: 'PUT', json: { signup_open: false }, auth: { bearer: token } }), 403, /personal access token/);
    const auth = { basic: ['boss', PASSWORD] as [string, string] };
    await expectProblem(await server.api('/settings', { method: 'PUT', json: {}, auth }), 400, /nothing to change/);
    await expectProblem(await server.api('/settings', { method: 'PUT', json: { signup_open: 'no' }, auth }), 400, /signup_open/);
    await expectProblem(await server.api('/settings', { method: 'PUT', json: { other: true }, auth }), 400, /unknown field/);
    assert.deepEqual(await expectJson(await server.api('/settings'), 200), { signup_open: true, pull_requires_login: false });
  });
});
