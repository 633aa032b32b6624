// Plan features are checked when they are used, not only when they are set up: after a downgrade
// an organisation's tokens stop working at /token, on /v2 (tokens issued before included) and on
// the API, its team permissions stop granting, and its teams take no member; each refusal names
// the plan. The plan back, the same tokens and teams work again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, jwtPayload, tokenFor, tokenGet, type Login } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { assertOciError } from '../support/oci.js';

const OFF = (what: string, feature: string) => new RegExp(`^${what} needs the "${feature}" feature, which the free plan of acme does not include: ask an administrator for the team plan$`);

describe('plan features after a downgrade', () => {
  let server: ApiServer;
  const olive = { basic: ['olive', PASSWORD] as [string, string] };
  const boss = { basic: ['boss', PASSWORD] as [string, string] };
  const mark: Login = { username: 'mark', secret: PASSWORD };
  let orgLogin: Login;

  const setPlan = async (plan: string) => expectJson(await server.api('/namespaces/acme/plan', { method: 'PUT', json: { plan }, auth: boss }), 200);

  before(async () => {
    server = await startApiServer({ 'auth.loginFailures': 1000 });
    for (const name of ['olive', 'mark', 'rita']) await createUser(server, name);
    await createUser(server, 'boss', { admin: true });
    await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
    await setPlan('team');
    for (const username of ['mark', 'rita']) await expectJson(await server.api('/orgs/acme/members', { method: 'POST', json: { username }, auth: olive }), 201);
    await expectJson(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'devs' }, auth: olive }), 201);
    await expectJson(await server.api('/orgs/acme/teams/devs/members', { method: 'POST', json: { username: 'mark' }, auth: olive }), 201);
    await expectJson(await server.api(`/orgs/acme/teams/devs/permissions/${encodeURIComponent('*')}`, { method: 'PUT', json: { permission: 'write' }, auth: olive }), 200);
    const created = await expectJson<{ token: string }>(await server.api('/orgs/acme/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:write'] }, auth: olive }), 201);
    orgLogin = { username: 'acme', secret: created.token };
    await server.hub.repositories.create('acme/private', true);
  });
  after(() => server.stop());

  it('works on the team plan: the organisation token and the team push', async () => {
    await pushImage(server.url, 'acme/app', 'v1', { token: await tokenFor(server.url, orgLogin, ['repository:acme/app:pull,push']) });
    await pushImage(server.url, 'acme/private', 'v1', { token: await tokenFor(server.url, mark, ['repository:acme/private:pull,push']) });
  });

  it('after a downgrade refuses the organisation token at /token, on /v2 with a token issued before, and on the API, naming the plan', async () => {
    const before = await tokenFor(server.url, orgLogin, ['repository:acme/app:pull,push']);
    await setPlan('free');

    const token = await tokenGet(server.url, { login: orgLogin, scopes: ['repository:acme/app:pull,push'] });
    assert.equal(token.status, 403, token.text);
    const errors = token.body.errors as { code: string; message: string }[];
    assert.equal(errors[0]?.code, 'DENIED');
    assert.match(errors[0]!.message, OFF('an organisation access token', 'organization-tokens'));
    assert.match(token.body.details as string, /organization-tokens/);

    for (const path of ['/v2/acme/app/blobs/uploads/', '/v2/acme/app/manifests/v1']) {
      const res = await fetch(`${server.url}${path}`, { method: path.endsWith('/') ? 'POST' : 'GET', headers: bearer(before) });
      await assertOciError(res, 403, 'DENIED', { message: OFF('an organisation access token', 'organization-tokens') });
    }
    await expectProblem(await server.api('/orgs/acme/members', { auth: { bearer: orgLogin.secret } }), 403, OFF('an organisation access token', 'organization-tokens'));
    await expectProblem(await server.api('/orgs/acme/members', { auth: { basic: ['acme', orgLogin.secret] } }), 403, OFF('an organisation access token', 'organization-tokens'));
  });

  it('after a downgrade team permissions grant nothing, tokens issued before included, and teams take no member', async () => {
    await setPlan('team');
    const before = await tokenFor(server.url, mark, ['repository:acme/private:pull,push', 'repository:acme/new:pull,push']);
    await setPlan('free');
    // the repository is private: the member sees it as missing; a public one it may still pull, not push
    await assertOciError(await fetch(`${server.url}/v2/acme/private/manifests/v1`, { headers: bearer(before) }), 401, 'DENIED');
    await assertOciError(await fetch(`${server.url}/v2/acme/new/blobs/uploads/`, { method: 'POST', headers: bearer(before) }), 401, 'DENIED');
    const granted = await tokenGet(server.url, { login: mark, scopes: ['repository:acme/private:pull,push', 'repository:acme/app:pull,push'] });
    assert.equal(granted.status, 200);
    const access = jwtPayload(granted.body.token as string).access;
    assert.deepEqual(access, [{ type: 'repository', name: 'acme/app', actions: ['pull'] }], 'public pull only');

    await expectProblem(await server.api('/orgs/acme/teams/devs/members', { method: 'POST', json: { username: 'rita' }, auth: olive }), 403, OFF('putting a member on a team', 'team-permissions'));
    await expectProblem(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'ops' }, auth: olive }), 403, OFF('a team', 'team-permissions'));
    await expectProblem(
      await server.api('/orgs/acme/teams/devs/permissions/app', { method: 'PUT', json: { permission: 'read' }, auth: olive }),
      403,
      OFF('a team permission', 'team-permissions'),
    );
    // nothing was deleted: the team and its permission are still there
    const team = await expectJson<{ members: string[]; permissions: unknown[] }>(await server.api('/orgs/acme/teams/devs', { auth: olive }), 200);
    assert.deepEqual(team.members, ['mark']);
    assert.equal(team.permissions.length, 1);
  });

  it('with the plan back, the same organisation token and team work again', async () => {
    await setPlan('team');
    const mine = await tokenFor(server.url, mark, ['repository:acme/private:pull,push']);
    await setPlan('free');
    await assertOciError(await fetch(`${server.url}/v2/acme/private/blobs/uploads/`, { method: 'POST', headers: bearer(mine) }), 401, 'DENIED');
    await setPlan('team');
    await pushImage(server.url, 'acme/private', 'v2', { token: mine });
    await pushImage(server.url, 'acme/app', 'v2', { token: await tokenFor(server.url, orgLogin, ['repository:acme/app:pull,push']) });
  });
});
