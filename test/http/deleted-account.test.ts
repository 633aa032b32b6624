// A deleted account loses every right at once, whatever tokens it holds: an access token fetched
// before `DELETE /api/v1/users/me` (or before an organisation was deleted) pushes and pulls
// nothing afterwards, and nothing is created under the deleted namespace, by any path.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, jwtPayload, tokenFor, tokenGet } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { assertOciError, bin, MT, sha256 } from '../support/oci.js';

describe('a deleted account', () => {
  let server: ApiServer;
  const login = (username: string) => ({ username, secret: PASSWORD });

  before(async () => {
    server = await startApiServer({ 'auth.loginFailures': 1000 });
    for (const name of ['alice', 'olive', 'mark', 'bob']) await createUser(server, name);
  });
  after(() => server.stop());

  /** What a push with `token` into `repo` gets at each step: the upload POST, a monolithic upload, a mount, a manifest PUT. */
  async function pushSteps(token: string, repo: string, from?: string): Promise<Response[]> {
    const layer = randomBytes(256);
    const digest = sha256(layer);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.OciManifest, config: { mediaType: MT.OciConfig, digest, size: layer.length }, layers: [] }));
    return [
      await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: bearer(token) }),
      await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
        body: bin(layer),
      }),
      ...(from ? [await fetch(`${server.url}/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${from}`, { method: 'POST', headers: bearer(token) })] : []),
      await fetch(`${server.url}/v2/${repo}/manifests/v2`, { method: 'PUT', headers: { ...bearer(token), 'content-type': MT.OciManifest }, body: bin(manifest) }),
    ];
  }

  /** Nothing of `namespace` is left: no repository in the hub, the index, the catalog or search. */
  async function nothingUnder(namespace: string): Promise<void> {
    const db = server.database.db;
    assert.deepEqual(await db.selectFrom('repositories').select('name').where('name', 'like', `${namespace}/%`).execute(), []);
    assert.deepEqual(await db.selectFrom('hub_repositories').select('name').where('namespace', '=', namespace).execute(), []);
    assert.deepEqual(await db.selectFrom('uploads').select('id').where('repository', 'like', `${namespace}/%`).execute(), []);
    const search = (await (await fetch(`${server.url}/v1/search?q=${namespace}`)).json()) as { results: { name: string }[] };
    assert.deepEqual(search.results.filter((r) => r.name.startsWith(`${namespace}/`)), []);
  }

  it('refuses a push token fetched before DELETE /api/v1/users/me: nothing is pushed, nothing is created', async () => {
    const token = await tokenFor(server.url, login('alice'), ['repository:alice/app:pull,push', 'repository:alice/new:pull,push']);
    const pushed = await pushImage(server.url, 'alice/app', 'v1', { token });
    const deleted = await expectJson<{ repositories: { results: string[] } }>(
      await server.api('/users/me', { method: 'DELETE', json: { confirm: 'alice' }, auth: { basic: ['alice', PASSWORD] } }),
      200,
    );
    assert.deepEqual(deleted.repositories.results, ['alice/app']);
    assert.equal(jwtPayload(token).sub, 'alice', 'the token is the one issued before the deletion, still unexpired');

    for (const repo of ['alice/app', 'alice/new']) {
      for (const res of await pushSteps(token, repo, 'alice/app')) {
        await assertOciError(res, 401, 'UNAUTHORIZED', { message: /the access token is no longer valid: the account "alice" no longer exists/ });
      }
    }
    const pull = await fetch(`${server.url}/v2/alice/app/manifests/${pushed.digest}`, { headers: bearer(token) });
    await assertOciError(pull, 401, 'UNAUTHORIZED');
    assert.match(pull.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    await nothingUnder('alice');

    // and no new token: the password, sessions and tokens went with the account
    assert.equal((await tokenGet(server.url, { login: login('alice'), scopes: ['repository:alice/app:push'] })).status, 401);
  });

  it('refuses the tokens of a member who deleted its account, and of a deleted organisation', async () => {
    await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: { basic: ['olive', PASSWORD] } }), 201);
    await server.hub.plans.apply('acme', 'team');
    await expectJson(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'mark' }, auth: { basic: ['olive', PASSWORD] } }), 201);
    await server.hub.teams.create('acme', 'devs');
    await server.hub.teams.addMember('acme', 'devs', 'mark');
    await server.hub.teams.setPermission('acme', 'devs', '*', 'write');
    const member = await tokenFor(server.url, login('mark'), ['repository:acme/app:pull,push']);
    const { token: orgSecret } = await server.hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:write'] });
    const orgToken = await tokenFor(server.url, { username: 'acme', secret: orgSecret }, ['repository:acme/app:pull,push', 'repository:acme/other:pull,push']);
    const owner = await tokenFor(server.url, login('olive'), ['repository:acme/app:pull,push', 'repository:acme/more:pull,push']);
    await pushImage(server.url, 'acme/app', 'v1', { token: member });

    await expectJson(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'mark' }, auth: { basic: ['mark', PASSWORD] } }), 200);
    for (const res of await pushSteps(member, 'acme/app')) await assertOciError(res, 401, 'UNAUTHORIZED', { message: /"mark" no longer exists/ });
    await pushImage(server.url, 'acme/app', 'v2', { token: orgToken });

    await expectJson(await server.api('/orgs/acme', { method: 'DELETE', json: { confirm: 'acme' }, auth: { basic: ['olive', PASSWORD] } }), 200);
    for (const res of await pushSteps(orgToken, 'acme/other')) await assertOciError(res, 401, 'UNAUTHORIZED', { message: /"acme" no longer exists/ });
    // the owner's own account lives on, but owns the deleted organisation no more: its token is short of the scope now
    for (const res of await pushSteps(owner, 'acme/more')) await assertOciError(res, 401, 'DENIED');
    await nothingUnder('acme');
  });

  it('creates no repository under a deleted namespace through the API, even for an administrator', async () => {
    await createUser(server, 'boss', { admin: true });
    await expectJson(await server.api('/users/me', { method: 'DELETE', json: { confirm: 'bob' }, auth: { basic: ['bob', PASSWORD] } }), 200);
    await expectProblem(await server.api('/namespaces/bob/repositories', { method: 'POST', json: { name: 'app' }, auth: { basic: ['boss', PASSWORD] } }), 404);
    const admin = await tokenFor(server.url, login('boss'), ['repository:bob/app:pull,push']);
    for (const res of await pushSteps(admin, 'bob/app')) await assertOciError(res, 403, 'DENIED', { message: /the namespace "bob" was deleted/ });
    await nothingUnder('bob');
  });
});
