// Organisations are no way around a plan: a free user's organisations draw on the user's own
// allowance until an administrator grants one a plan. Through the API and /v2, with the usage
// endpoint saying whose allowance applies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { assertOciError } from '../support/oci.js';

interface Usage {
  namespace: string;
  plan: { name: string };
  billed_to: string;
  billed_namespaces: string[];
  private_repositories: number;
  storage_bytes: number;
  read_only_repositories: string[];
}

const SHARED = (namespace: string) =>
  new RegExp(`^${namespace} is billed to alice: the free plan allows 1 private repository; alice and the organisations billed to it have 1 — make one public or ask an administrator for the pro plan$`);

describe('organisations billed to their creator', () => {
  let server: ApiServer;
  const alice = { basic: ['alice', PASSWORD] as [string, string] };
  const boss = { basic: ['boss', PASSWORD] as [string, string] };

  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
    await createUser(server, 'boss', { admin: true });
  });
  after(() => server.stop());

  it('gives a free user one private repository between its namespace and all its organisations', async () => {
    for (const name of ['acme', 'globex']) await expectJson(await server.api('/orgs', { method: 'POST', json: { name }, auth: alice }), 201);
    await expectJson(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'one', is_private: true }, auth: alice }), 201);
    for (const org of ['acme', 'globex']) {
      await expectProblem(await server.api(`/namespaces/${org}/repositories`, { method: 'POST', json: { name: 'secret', is_private: true }, auth: alice }), 403, SHARED(org));
      await expectJson(await server.api(`/namespaces/${org}/repositories`, { method: 'POST', json: { name: 'open' }, auth: alice }), 201);
      await expectProblem(await server.api(`/repositories/${org}/open`, { method: 'PATCH', json: { is_private: true }, auth: alice }), 403, SHARED(org));
    }

    // /v2: a first push that would create a private repository of an organisation is refused before any byte
    await expectJson(await server.api('/orgs/acme', { method: 'PATCH', json: { default_private: true }, auth: alice }), 200);
    const token = await tokenFor(server.url, { username: 'alice', secret: PASSWORD }, ['repository:acme/second:pull,push']);
    await assertOciError(await fetch(`${server.url}/v2/acme/second/blobs/uploads/`, { method: 'POST', headers: bearer(token) }), 403, 'DENIED', { message: SHARED('acme') });
    assert.equal((await server.hub.repositories.visibility('acme/second')).exists, false);
  });

  it('shows on the usage of each namespace whose allowance applies, and what it holds', async () => {
    const usage = await expectJson<Usage>(await server.api('/namespaces/acme/usage', { auth: alice }), 200);
    assert.equal(usage.billed_to, 'alice');
    assert.deepEqual(usage.billed_namespaces, ['acme', 'alice', 'globex']);
    assert.equal(usage.plan.name, 'free');
    assert.equal(usage.private_repositories, 1, "alice's private repository counts for acme too");
    const own = await expectJson<Usage>(await server.api('/namespaces/alice/usage', { auth: alice }), 200);
    assert.deepEqual({ billed_to: own.billed_to, namespaces: own.billed_namespaces, private: own.private_repositories }, { billed_to: 'alice', namespaces: ['acme', 'alice', 'globex'], private: 1 });
  });

  it('counts the storage of the creator and its organisations against one quota', async () => {
    const token = await tokenFor(server.url, { username: 'alice', secret: PASSWORD }, ['repository:alice/app:pull,push', 'repository:globex/app:pull,push']);
    await pushImage(server.url, 'alice/app', 'v1', { token });
    await pushImage(server.url, 'globex/app', 'v1', { token });
    const usage = await expectJson<Usage>(await server.api('/namespaces/globex/usage', { auth: alice }), 200);
    const alone = await server.hub.limits.usage.storageBytes('alice');
    const org = await server.hub.limits.usage.storageBytes('globex');
    assert.ok(alone > 512 && org > 512);
    assert.equal(usage.storage_bytes, alone + org);
    await server.hub.plans.update('free', { storageBytes: alone + org });
    try {
      await assertOciError(await fetch(`${server.url}/v2/globex/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) }), 403, 'DENIED', {
        message: /^globex is billed to alice: alice and the organisations billed to it have used .* of storage of the free plan — delete images or ask an administrator for the pro plan$/,
      });
    } finally {
      await server.hub.plans.update('free', { storageBytes: 2_000_000_000 });
    }
  });

  it('lets an administrator grant an organisation a plan of its own: billed to itself from then on', async () => {
    await expectJson(await server.api('/namespaces/acme/plan', { method: 'PUT', json: { plan: 'pro' }, auth: boss }), 200);
    const usage = await expectJson<Usage>(await server.api('/namespaces/acme/usage', { auth: alice }), 200);
    assert.deepEqual({ billed_to: usage.billed_to, namespaces: usage.billed_namespaces, plan: usage.plan.name }, { billed_to: 'acme', namespaces: ['acme'], plan: 'pro' });
    await expectJson(await server.api('/namespaces/acme/repositories', { method: 'POST', json: { name: 'secret', is_private: true }, auth: alice }), 201);
    await expectJson(await server.api('/namespaces/acme/repositories', { method: 'POST', json: { name: 'secret2', is_private: true }, auth: alice }), 201);
    // globex still shares alice's allowance, which acme no longer uses
    await expectProblem(await server.api('/namespaces/globex/repositories', { method: 'POST', json: { name: 'secret', is_private: true }, auth: alice }), 403, SHARED('globex'));
    assert.deepEqual((await expectJson<Usage>(await server.api('/namespaces/alice/usage', { auth: alice }), 200)).billed_namespaces, ['alice', 'globex']);
  });
});
