import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer, type ApiRequest } from '../support/api.js';
import { pushImage } from '../support/images.js';

type Repository = Record<string, unknown>;

/** What these tests look at of a repository, before anyone pulled it. */
function repo(namespace: string, name: string, isPrivate: boolean) {
  return { namespace, name, is_private: isPrivate, is_official: namespace === 'library', is_verified_publisher: false, pull_count: 0, last_pulled: null };
}

const KEYS = ['namespace', 'name', 'is_private', 'is_official', 'is_verified_publisher', 'pull_count', 'last_pulled'];

/** The repository of an answer, in the fields repo() gives. */
async function shown(res: Response): Promise<Repository> {
  const body = await expectJson<Repository>(res, 200);
  return Object.fromEntries(KEYS.map((k) => [k, body[k]]));
}

describe('/api/v1/repositories: visibility, and invisibility of private repositories', () => {
  let server: ApiServer;
  const alice = { basic: ['alice', PASSWORD] as [string, string] };
  const bob = { basic: ['bob', PASSWORD] as [string, string] };
  const admin = { basic: ['boss', PASSWORD] as [string, string] };
  let aliceSession: string;

  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
    await server.hub.plans.apply('alice', 'pro'); // several private repositories
    await createUser(server, 'bob');
    await createUser(server, 'boss', { admin: true });
    for (const name of ['alice/pub', 'alice/priv', 'alice/team/app', 'library/nginx', 'library/secret']) await pushImage(server.registry, name, 'latest');
    await server.hub.repositories.setVisibility('alice/priv', true);
    await server.hub.repositories.setVisibility('library/secret', true);
    aliceSession = await signIn(server, 'alice');
  });
  after(() => server.stop());

  /** A 404 for `name`, with the body a missing repository gets (the name swapped). */
  async function expectInvisible(name: string, init: ApiRequest = {}): Promise<void> {
    const res = await server.api(`/repositories/${name}`, init);
    const problem = await expectProblem(res, 404);
    const missing = await expectProblem(await server.api(`/repositories/${name}-missing`, init), 404);
    assert.deepEqual({ ...problem, detail: problem.detail.replace(name, 'X') }, { ...missing, detail: missing.detail.replace(`${name}-missing`, 'X') });
  }

  describe('GET', () => {
    it('shows a public repository to anyone, in Docker Hub\'s shape', async () => {
      assert.deepEqual(await shown(await server.api('/repositories/alice/pub')), repo('alice', 'pub', false));
      assert.deepEqual(await shown(await server.api('/repositories/alice/team%2Fapp', { auth: bob })), repo('alice', 'team/app', false));
    });

    it('shows an official image in the library namespace', async () => {
      assert.deepEqual(await shown(await server.api('/repositories/library/nginx')), repo('library', 'nginx', false));
    });

    it('shows a private repository to its owner (session, password, any PAT) and to an administrator', async () => {
      const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'read', scopes: ['repo:read'] });
      for (const auth of [alice, { bearer: aliceSession }, { bearer: token }, admin]) {
        assert.deepEqual(await shown(await server.api('/repositories/alice/priv', { auth })), repo('alice', 'priv', true));
      }
      assert.deepEqual(await shown(await server.api('/repositories/library/secret', { auth: admin })), repo('library', 'secret', true));
    });

    it('answers a private repository exactly like a missing one to anyone else', async () => {
      await expectInvisible('alice/priv');
      await expectInvisible('alice/priv', { auth: bob });
      await expectInvisible('library/secret', { auth: alice });
      await expectInvisible('library/secret', { auth: bob });
      await expectProblem(await server.api('/repositories/alice/nothing'), 404, /not found/);
    });

    it('refuses a name that is not one with 400', async () => {
      await expectProblem(await server.api('/repositories/Alice/App'), 400, /repository name/);
      await expectProblem(await server.api('/repositories/alice/App'), 400, /repository name/);
    });

    it('when pulling needs an account, asks anonymous callers to sign in, and shows public repositories to accounts', async () => {
      await server.hub.settings.set('pullRequiresLogin', true);
      try {
        await expectProblem(await server.api('/repositories/alice/pub'), 401, /sign in/);
        await expectProblem(await server.api('/repositories/alice/nothing'), 401, /sign in/);
        await expectJson(await server.api('/repositories/alice/pub', { auth: bob }), 200);
      } finally {
        await server.hub.settings.set('pullRequiresLogin', false);
      }
    });
  });

  describe('PATCH', () => {
    it('lets the owner make a repository private and public again, effective at once', async () => {
      await pushImage(server.registry, 'alice/flip', 'latest');
      const made = await shown(await server.api('/repositories/alice/flip', { method: 'PATCH', json: { is_private: true }, auth: { bearer: aliceSession } }));
      assert.deepEqual(made, repo('alice', 'flip', true));
      await expectInvisible('alice/flip');
      await expectInvisible('alice/flip', { auth: bob });
      assert.equal((await server.api('/repositories/alice/flip', { method: 'PATCH', json: { is_private: false }, auth: alice })).status, 200);
      await expectJson(await server.api('/repositories/alice/flip'), 200);
    });

    it('lets an administrator change any repository, official images included', async () => {
      assert.deepEqual(await shown(await server.api('/repositories/alice/team%2Fapp', { method: 'PATCH', json: { is_private: true }, auth: admin })), repo('alice', 'team/app', true));
      await expectInvisible('alice/team/app', { auth: bob });
      await expectJson(await server.api('/repositories/alice/team%2Fapp', { method: 'PATCH', json: { is_private: false }, auth: admin }), 200);
      await expectJson(await server.api('/repositories/library/nginx', { method: 'PATCH', json: { is_private: true }, auth: admin }), 200);
      await expectJson(await server.api('/repositories/library/nginx', { method: 'PATCH', json: { is_private: false }, auth: admin }), 200);
    });

    it('refuses others: 401 anonymous, 403 on what they can see, 404 on what they cannot', async () => {
      await expectProblem(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: true } }), 401);
      await expectProblem(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: true }, auth: bob }), 403, /owner/);
      await expectProblem(await server.api('/repositories/alice/priv', { method: 'PATCH', json: { is_private: false }, auth: bob }), 404);
      await expectProblem(await server.api('/repositories/alice/missing', { method: 'PATCH', json: { is_private: false }, auth: bob }), 404);
      await expectProblem(await server.api('/repositories/library/nginx', { method: 'PATCH', json: { is_private: true }, auth: alice }), 403);
      await expectProblem(await server.api('/repositories/library/secret', { method: 'PATCH', json: { is_private: false }, auth: alice }), 404);
      assert.equal((await server.hub.repositories.visibility('alice/pub')).private, false);
    });

    it('takes a personal access token with repo:admin, not a narrower one', async () => {
      const write = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'w', scopes: ['repo:write', 'repo:delete'] });
      const adminToken = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'a', scopes: ['repo:admin'] });
      await expectProblem(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: true }, auth: { bearer: write.token } }), 403, /repo:admin/);
      await expectJson(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: true }, auth: { basic: ['alice', adminToken.token] } }), 200);
      await expectJson(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: false }, auth: { bearer: adminToken.token } }), 200);
    });

    it('answers 404 for a repository that does not exist, even in the caller\'s namespace; 400 for a bad body', async () => {
      await expectProblem(await server.api('/repositories/alice/never', { method: 'PATCH', json: { is_private: true }, auth: alice }), 404);
      await expectProblem(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: 'yes' }, auth: alice }), 400, /is_private/);
      await expectProblem(await server.api('/repositories/alice/pub', { method: 'PATCH', json: {}, auth: alice }), 400, /is_private/);
      await expectProblem(await server.api('/repositories/alice/pub', { method: 'PATCH', json: { is_private: true, name: 'x' }, auth: alice }), 400, /unknown field/);
    });
  });
});
