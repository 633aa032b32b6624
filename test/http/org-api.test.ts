// /api/v1/orgs: organisations, members and roles, teams and their permissions, organisation access
// tokens, verified publishers and the official namespace, with problem+json for every refusal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiRequest, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';

describe('organisations API', () => {
  let server: ApiServer;
  let olive: ApiRequest['auth'];
  let mark: ApiRequest['auth'];
  let rita: ApiRequest['auth'];
  let boss: ApiRequest['auth'];

  const setPlan = (name: string, plan: string) => server.hub.plans.apply(name, plan);

  before(async () => {
    server = await startApiServer({ 'auth.loginFailures': 1000 });
    for (const name of ['olive', 'mark', 'rita', 'stranger']) await createUser(server, name);
    await createUser(server, 'boss', { admin: true });
    olive = { bearer: await signIn(server, 'olive') };
    mark = { bearer: await signIn(server, 'mark') };
    rita = { basic: ['rita', PASSWORD] };
    boss = { bearer: await signIn(server, 'boss') };
  });
  after(() => server.stop());

  it('creates an organisation owned by its creator, under the account name rules', async () => {
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'acme' } }), 401);
    const org = await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
    assert.deepEqual({ ...org, created_at: null }, { name: 'acme', kind: 'organization', official: false, verified_publisher: false, plan: 'free', default_private: false, created_at: null, role: 'owner' });
    await setPlan('acme', 'team');
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: mark }), 409, /taken/);
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'olive' }, auth: mark }), 409, /taken/);
    for (const name of ['library', 'library_', '_library', 'lib-rary', '1ibrary', 'official-images', 'Acme', 'a']) {
      await expectProblem(await server.api('/orgs', { method: 'POST', json: { name }, auth: mark }), 400);
    }
    await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'acme', password: PASSWORD } }), 409);
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'globex', owner: 'mark' }, auth: olive }), 403, /administrator/);
    const pat = (await server.hub.tokens.createPersonalAccessToken('olive', { label: 'ci', scopes: ['repo:admin'] })).token;
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'globex' }, auth: { bearer: pat } }), 403, /token/);
    const globex = await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'globex', owner: 'mark' }, auth: boss }), 201);
    assert.equal(globex.role, undefined);
    assert.equal(await server.hub.organizations.role('globex', 'mark'), 'owner');

    const seen = await expectJson(await server.api('/orgs/acme'), 200);
    assert.equal(seen.name, 'acme');
    assert.equal(seen.role, undefined);
    await expectProblem(await server.api('/orgs/nothing'), 404);
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'x1', extra: true }, auth: olive }), 400, /unknown field/);
  });

  it('adds, promotes and removes members; an organisation keeps an owner', async () => {
    await expectProblem(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'mark' }, auth: mark }), 403, /owner/);
    const added = await expectJson(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'mark' }, auth: olive }), 201);
    assert.deepEqual({ ...added, since: null }, { username: 'mark', role: 'member', since: null });
    await expectProblem(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'mark' }, auth: olive }), 409);
    await expectProblem(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'nobody' }, auth: olive }), 404);
    await expectProblem(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'globex' }, auth: olive }), 400, /organisation/);
    await expectProblem(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'rita', role: 'boss' }, auth: olive }), 400, /role/);
    await expectJson(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'rita' }, auth: olive }), 201);

    const members = await expectJson<{ results: { username: string; role: string }[] }>(await server.api('/orgs/acme/members', { auth: mark }), 200);
    assert.deepEqual(members.results.map((m) => [m.username, m.role]), [['mark', 'member'], ['olive', 'owner'], ['rita', 'member']]);
    await expectProblem(await server.api('/orgs/acme/members', { auth: { basic: ['stranger', PASSWORD] } }), 403);
    assert.equal((await expectJson(await server.api('/orgs/acme', { auth: mark }), 200)).role, 'member');
    const mine = await expectJson<{ results: { name: string; role: string }[] }>(await server.api('/orgs', { auth: mark }), 200);
    assert.deepEqual(mine.results.map((o) => [o.name, o.role]), [['acme', 'member'], ['globex', 'owner']]);

    await expectProblem(await server.api('/orgs/acme/members/olive', { method: 'DELETE', auth: olive }), 409, /owner/);
    await expectProblem(await server.api('/orgs/acme/leave', { method: 'POST', auth: olive }), 409, /owner/);
    await expectProblem(await server.api('/orgs/acme/members/olive', { method: 'PATCH', json: { role: 'member' }, auth: olive }), 409, /owner/);
    await expectProblem(await server.api('/orgs/acme/members/olive', { method: 'DELETE', auth: mark }), 403);
    const promoted = await expectJson(await server.api('/orgs/acme/members/mark', { method: 'PATCH', json: { role: 'owner' }, auth: olive }), 200);
    assert.equal(promoted.role, 'owner');
    await expectJson(await server.api('/orgs/acme/members/mark', { method: 'PATCH', json: { role: 'member' }, auth: olive }), 200);

    // a member leaves by itself, or is removed by an owner
    const res = await server.api('/orgs/acme/leave', { method: 'POST', auth: rita });
    assert.equal(res.status, 204);
    await expectProblem(await server.api('/orgs/acme/leave', { method: 'POST', auth: rita }), 404);
    assert.equal((await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'rita' }, auth: olive })).status, 201);
  });

  it('caps members at the seats of the plan, and says which plan', async () => {
    const created = await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'solo' }, auth: rita }), 201);
    assert.equal(created.plan, 'free');
    // billed to rita: her free plan's 3 seats, hers included
    assert.equal((await server.hub.planLimits('solo'))!.seats, 3);
    for (const username of ['mark', 'olive']) assert.equal((await server.api('/orgs/solo/members', { method: 'POST', json: { username }, auth: rita })).status, 201);
    await expectProblem(
      await server.api('/orgs/solo/members', { method: 'POST', json: { username: 'stranger' }, auth: rita }),
      403,
      /solo has all 3 seats of its plan "free" \(the plan of rita, which solo is billed to\) taken/,
    );
    await expectProblem(await server.api('/orgs/solo/teams', { method: 'POST', json: { name: 'devs' }, auth: rita }), 403, /team-permissions/);
    await expectProblem(await server.api('/orgs/solo/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:read'] }, auth: rita }), 403, /organization-tokens/);
  });

  it('manages teams, their members and permissions', async () => {
    await expectProblem(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'devs' }, auth: mark }), 403);
    const team = await expectJson(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'devs', description: 'developers' }, auth: olive }), 201);
    assert.deepEqual({ ...team, created_at: null }, { name: 'devs', description: 'developers', created_at: null, members: [], permissions: [] });
    await expectProblem(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'devs' }, auth: olive }), 409);
    await expectProblem(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'Bad Name' }, auth: olive }), 400);
    assert.equal((await server.api('/orgs/acme/teams/devs/members', { method: 'POST', json: { username: 'mark' }, auth: olive })).status, 201);
    await expectProblem(await server.api('/orgs/acme/teams/devs/members', { method: 'POST', json: { username: 'stranger' }, auth: olive }), 400, /not a member/);
    await expectJson(await server.api('/orgs/acme/teams/devs/members/rita', { method: 'PUT', auth: olive }), 200);
    const set = await expectJson(await server.api('/orgs/acme/teams/devs/permissions/app', { method: 'PUT', json: { permission: 'write' }, auth: olive }), 200);
    assert.deepEqual(set, { repository: 'acme/app', permission: 'write' });
    await expectJson(await server.api(`/orgs/acme/teams/devs/permissions/${encodeURIComponent('*')}`, { method: 'PUT', json: { permission: 'read' }, auth: olive }), 200);
    await expectProblem(await server.api('/orgs/acme/teams/devs/permissions/app', { method: 'PUT', json: { permission: 'owner' }, auth: olive }), 400);
    await expectProblem(await server.api('/orgs/acme/teams/nope/permissions/app', { method: 'PUT', json: { permission: 'read' }, auth: olive }), 404);
    await expectProblem(await server.api('/orgs/acme/teams/devs/permissions/app', { method: 'PUT', json: { permission: 'admin' }, auth: mark }), 403);

    // a team's permissions name repositories, private ones included: owners see them, members do not
    await expectProblem(await server.api('/orgs/acme/teams/devs', { auth: mark }), 403);
    await expectProblem(await server.api('/orgs/acme/teams/devs/permissions', { auth: mark }), 403);
    const seen = await expectJson(await server.api('/orgs/acme/teams/devs', { auth: olive }), 200);
    assert.deepEqual(seen.members, ['mark', 'rita']);
    assert.deepEqual(seen.permissions, [{ repository: '*', permission: 'read' }, { repository: 'acme/app', permission: 'write' }]);
    await expectProblem(await server.api('/orgs/acme/teams/devs', { auth: { basic: ['stranger', PASSWORD] } }), 403);
    const list = await expectJson<{ count: number }>(await server.api('/orgs/acme/teams', { auth: mark }), 200);
    assert.equal(list.count, 1);
    await expectJson(await server.api('/orgs/acme/teams/devs', { method: 'PATCH', json: { description: 'the developers' }, auth: olive }), 200);
    assert.equal((await server.api('/orgs/acme/teams/devs/members/rita', { method: 'DELETE', auth: olive })).status, 204);
    assert.equal((await server.api(`/orgs/acme/teams/devs/permissions/${encodeURIComponent('*')}`, { method: 'DELETE', auth: olive })).status, 204);

    // what the team gives shows in the hub's decisions
    assert.deepEqual([...(await server.hub.policy.allowed({ kind: 'account', name: 'mark', admin: false }, 'acme/app'))].sort(), ['pull', 'push']);
    // removing a member from the organisation takes it off its teams
    assert.equal((await server.api('/orgs/acme/members/rita', { method: 'DELETE', auth: olive })).status, 204);
    assert.equal((await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'rita' }, auth: olive })).status, 201);
    assert.deepEqual((await expectJson(await server.api('/orgs/acme/teams/devs', { auth: olive }), 200)).members, ['mark']);

    await createTeamToDelete();
    async function createTeamToDelete() {
      await expectJson(await server.api('/orgs/acme/teams', { method: 'POST', json: { name: 'temp' }, auth: olive }), 201);
      assert.equal((await server.api('/orgs/acme/teams/temp', { method: 'DELETE', auth: olive })).status, 204);
      await expectProblem(await server.api('/orgs/acme/teams/temp', { auth: olive }), 404);
    }
  });

  it('issues organisation access tokens to owners, limited to repositories, usable as the organisation', async () => {
    await pushImage(server.registry, 'acme/private', 'latest');
    await pushImage(server.registry, 'acme/secret', 'latest');
    await server.hub.repositories.setVisibility('acme/private', true);
    await server.hub.repositories.setVisibility('acme/secret', true);

    await expectProblem(await server.api('/orgs/acme/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:read'] }, auth: mark }), 403);
    await expectProblem(await server.api('/orgs/acme/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:read'], repositories: ['globex/app'] }, auth: olive }), 400);
    const created = await expectJson<{ token: string; id: string; repositories: string[]; scopes: string[] }>(
      await server.api('/orgs/acme/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:read'], repositories: ['private'], expires_in: '30d' }, auth: olive }),
      201,
    );
    assert.match(created.token, /^pier_pat_/);
    assert.deepEqual(created.repositories, ['acme/private']);
    const listed = await expectJson<{ results: { id: string; token?: string }[] }>(await server.api('/orgs/acme/tokens', { auth: olive }), 200);
    assert.deepEqual(listed.results.map((t) => t.id), [created.id]);
    assert.ok(!JSON.stringify(listed).includes(created.token), 'the secret is shown once');
    await expectProblem(await server.api('/orgs/acme/tokens', { auth: mark }), 403);

    // the token acts as the organisation, on its repository only, and manages nothing
    const asOrg = { basic: ['acme', created.token] as [string, string] };
    assert.equal((await expectJson(await server.api('/repositories/acme/private', { auth: asOrg }), 200)).is_private, true);
    await expectProblem(await server.api('/repositories/acme/secret', { auth: asOrg }), 404);
    await expectProblem(await server.api('/repositories/acme/private', { auth: { basic: ['olive', created.token] } }), 401);
    await expectProblem(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'stranger' }, auth: asOrg }), 403);
    // nor does it read the organisation: its members, teams and usage name more than its repository
    await expectProblem(await server.api('/orgs/acme/members', { auth: asOrg }), 403);
    await expectProblem(await server.api('/orgs/acme/teams', { auth: asOrg }), 403);
    await expectProblem(await server.api('/namespaces/acme/usage', { auth: asOrg }), 404);
    await expectProblem(await server.api('/namespaces/acme/usage', { auth: mark }), 404, /no account or organisation/);
    await expectJson(await server.api('/namespaces/acme/usage', { auth: olive }), 200);
    await expectProblem(await server.api('/orgs/acme/tokens', { method: 'POST', json: { label: 'more', scopes: ['repo:admin'] }, auth: { bearer: created.token } }), 403);
    await expectProblem(await server.api('/repositories/acme/private', { method: 'PATCH', json: { is_private: false }, auth: asOrg }), 403);

    assert.equal((await server.api(`/orgs/acme/tokens/${created.id}`, { method: 'DELETE', auth: olive })).status, 204);
    await expectProblem(await server.api(`/orgs/acme/tokens/${created.id}`, { method: 'DELETE', auth: olive }), 404);
    await expectProblem(await server.api('/repositories/acme/private', { auth: asOrg }), 401);
  });

  it('lets owners and team admins change visibility, not writers', async () => {
    await pushImage(server.registry, 'acme/app', 'latest');
    await expectProblem(await server.api('/repositories/acme/app', { method: 'PATCH', json: { is_private: true }, auth: mark }), 403, /owner/);
    await server.hub.teams.setPermission('acme', 'devs', 'app', 'admin');
    assert.equal((await expectJson(await server.api('/repositories/acme/app', { method: 'PATCH', json: { is_private: true }, auth: mark }), 200)).is_private, true);
    assert.equal((await expectJson(await server.api('/repositories/acme/app', { method: 'PATCH', json: { is_private: false }, auth: olive }), 200)).is_private, false);
  });

  it('marks verified publishers (administrators only) and badges official images', async () => {
    await expectProblem(await server.api('/orgs/acme/verified', { method: 'PUT', json: { verified: true }, auth: olive }), 403, /administrator/);
    const verified = await expectJson(await server.api('/orgs/acme/verified', { method: 'PUT', json: { verified: true }, auth: boss }), 200);
    assert.equal(verified.verified_publisher, true);
    await expectProblem(await server.api('/orgs/olive/verified', { method: 'PUT', json: { verified: true }, auth: boss }), 404);
    const repo = await expectJson(await server.api('/repositories/acme/app'), 200);
    assert.equal(repo.is_verified_publisher, true);
    assert.equal(repo.is_official, false);

    await pushImage(server.registry, 'library/nginx', 'latest');
    const nginx = await expectJson(await server.api('/repositories/library/nginx'), 200);
    assert.equal(nginx.namespace, 'library');
    assert.equal(nginx.is_official, true);
    const library = await expectJson(await server.api('/orgs/library'), 200);
    assert.equal(library.official, true);
  });

  it('deletes an organisation for an owner who confirms; its name stays taken', async () => {
    await server.hub.organizations.create('doomed', 'olive');
    await pushImage(server.registry, 'doomed/app', 'latest');
    await expectProblem(await server.api('/orgs/doomed', { method: 'DELETE', json: { confirm: 'doomed' }, auth: mark }), 403);
    await expectProblem(await server.api('/orgs/doomed', { method: 'DELETE', json: { confirm: 'other' }, auth: olive }), 400, /confirm/);
    const deleted = await expectJson<{ repositories: { results: string[] } }>(
      await server.api('/orgs/doomed', { method: 'DELETE', json: { confirm: 'doomed', password: PASSWORD }, auth: olive }),
      200,
    );
    assert.deepEqual(deleted.repositories.results, ['doomed/app']);
    await expectProblem(await server.api('/orgs/doomed'), 404);
    await expectProblem(await server.api('/orgs', { method: 'POST', json: { name: 'doomed' }, auth: olive }), 409);
    await expectProblem(await server.api('/orgs/library', { method: 'DELETE', json: { confirm: 'library', password: PASSWORD }, auth: boss }), 403);
  });

  it('asks a session for the password again before deleting an organisation, as for an account', async () => {
    await server.hub.organizations.create('kept', 'olive');
    await pushImage(server.registry, 'kept/app', 'latest');
    // a browser left open (a session) cannot delete with the name alone, nor with a wrong password
    const missing = await expectProblem(await server.api('/orgs/kept', { method: 'DELETE', json: { confirm: 'kept' }, auth: olive }), 400, /^password: required/, 'validation');
    assert.deepEqual(missing.errors, [{ field: 'password', message: 'required' }]);
    await expectProblem(await server.api('/orgs/kept', { method: 'DELETE', json: { confirm: 'kept', password: 'not the password' }, auth: olive }), 403, /password is not correct/);
    assert.ok(await server.hub.organizations.get('kept'));
    assert.ok((await server.hub.repositories.visibility('kept/app')).exists);
    // the password itself (Basic credentials) was just given: no second time
    const deleted = await expectJson<{ name: string }>(await server.api('/orgs/kept', { method: 'DELETE', json: { confirm: 'kept' }, auth: { basic: ['olive', PASSWORD] } }), 200);
    assert.equal(deleted.name, 'kept');
    assert.equal(await server.hub.organizations.get('kept'), undefined);
  });

  it('lets administrators put people on the teams of the official namespace', async () => {
    await expectProblem(await server.api('/orgs/library/members', { method: 'POST', json: { username: 'rita' }, auth: olive }), 403, /administrators/);
    await expectJson(await server.api('/orgs/library/members', { method: 'POST', json: { username: 'rita' }, auth: boss }), 201);
    await expectJson(await server.api('/orgs/library/teams', { method: 'POST', json: { name: 'nginx-maintainers' }, auth: boss }), 201);
    await expectJson(await server.api('/orgs/library/teams/nginx-maintainers/members/rita', { method: 'PUT', auth: boss }), 200);
    await expectJson(await server.api('/orgs/library/teams/nginx-maintainers/permissions/nginx', { method: 'PUT', json: { permission: 'write' }, auth: boss }), 200);
    assert.deepEqual([...(await server.hub.policy.allowed({ kind: 'account', name: 'rita', admin: false }, 'library/nginx'))].sort(), ['pull', 'push']);
    // library has no owner to keep: administrators remove whom they like
    assert.equal((await server.api('/orgs/library/members/rita', { method: 'DELETE', auth: boss })).status, 204);
  });
});
