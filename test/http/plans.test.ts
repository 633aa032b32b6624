// Plans over HTTP: the plans API, granting a plan, usage, and the refusals a client sees: problem
// documents on /api/v1, 403 DENIED with the plan's message on /v2 before any byte is uploaded.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';
import { assertOciError, bin } from '../support/oci.js';
import { bearer, tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';

interface PlanJson {
  name: string;
  title: string;
  price_label: string;
  private_repositories: number | null;
  storage_bytes: number | null;
  pulls_per_window: number | null;
  pull_window_seconds: number;
  seats: number | null;
  features: string[];
}

const FREE_LIMIT = /the free plan allows 1 private repository; (\w+) has 1 — make one public or ask an administrator for the pro plan/;

describe('/api/v1 plans, usage, and plan limits on /v2', () => {
  let server: ApiServer;
  const admin = { basic: ['boss', PASSWORD] as [string, string] };
  const alice = { basic: ['alice', PASSWORD] as [string, string] };
  const bob = { basic: ['bob', PASSWORD] as [string, string] };
  const login = (username: string) => ({ username, secret: PASSWORD });

  before(async () => {
    server = await startApiServer();
    await createUser(server, 'boss', { admin: true });
    for (const name of ['alice', 'bob', 'carol', 'dave']) await createUser(server, name);
  });
  after(() => server.stop());

  it('lists the plans to anyone, with labels only: nothing is charged', async () => {
    const list = await expectJson<{ count: number; results: PlanJson[] }>(await server.api('/plans'), 200);
    assert.equal(list.count, 3);
    assert.deepEqual(list.results.map((p) => p.name), ['free', 'pro', 'team']);
    assert.deepEqual(list.results[0], {
      name: 'free',
      title: 'Free',
      price_label: 'Free',
      private_repositories: 1,
      storage_bytes: 2_000_000_000,
      pulls_per_window: 100,
      pull_window_seconds: 21_600,
      seats: 3,
      features: [],
    });
    assert.equal((await expectJson<PlanJson>(await server.api('/plans/team'), 200)).private_repositories, null);
    await expectProblem(await server.api('/plans/gold'), 404);
  });

  it('lets only an administrator edit a plan', async () => {
    await expectProblem(await server.api('/plans/pro', { method: 'PUT', json: { seats: 3 } }), 401);
    await expectProblem(await server.api('/plans/pro', { method: 'PUT', json: { seats: 3 }, auth: alice }), 403, /administrator/);
    const session = await signIn(server, 'boss');
    const edited = await expectJson<PlanJson>(await server.api('/plans/pro', { method: 'PUT', json: { seats: 3, price_label: 'Ask us' }, auth: { bearer: session } }), 200);
    assert.equal(edited.seats, 3);
    assert.equal(edited.price_label, 'Ask us');
    assert.equal((await expectJson<PlanJson>(await server.api('/plans/pro'), 200)).seats, 3);
    await expectProblem(await server.api('/plans/pro', { method: 'PUT', json: { seats: -1 }, auth: admin }), 400, /seats/);
    await expectProblem(await server.api('/plans/pro', { method: 'PUT', json: { price: 10 }, auth: admin }), 400, /unknown field/);
    await expectProblem(await server.api('/plans/pro', { method: 'PUT', json: {}, auth: admin }), 400, /nothing to change/);
    await expectProblem(await server.api('/plans/pro', { method: 'PUT', json: { features: ['gold'] }, auth: admin }), 400, /features/);
    await expectProblem(await server.api('/plans/gold', { method: 'PUT', json: { seats: 1 }, auth: admin }), 404);
    await expectJson(await server.api('/plans/pro', { method: 'PUT', json: { seats: 1, price_label: 'Granted by an administrator' }, auth: admin }), 200);
  });

  it('grants a plan through the provider: an administrator, nobody else', async () => {
    await expectProblem(await server.api('/namespaces/bob/plan', { method: 'PUT', json: { plan: 'pro' }, auth: bob }), 403, /only an administrator grants plans/);
    const granted = await expectJson<{ namespace: string; status: string; plan: PlanJson }>(
      await server.api('/namespaces/bob/plan', { method: 'PUT', json: { plan: 'pro' }, auth: admin }),
      200,
    );
    assert.equal(granted.status, 'granted');
    assert.equal(granted.plan.name, 'pro');
    assert.equal((await server.hub.plans.planOf('bob')).name, 'pro');
    await expectProblem(await server.api('/namespaces/bob/plan', { method: 'PUT', json: { plan: 'gold' }, auth: admin }), 400, /no plan "gold"/);
    await expectProblem(await server.api('/namespaces/nobody/plan', { method: 'PUT', json: { plan: 'pro' }, auth: admin }), 404);
    await expectJson(await server.api('/namespaces/bob/plan', { method: 'PUT', json: { plan: 'free' }, auth: admin }), 200);
  });

  it('refuses a second private repository through the API, created or made private, and says how to raise the limit', async () => {
    const created = await expectJson(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'one', is_private: true }, auth: alice }), 201);
    assert.deepEqual([created.namespace, created.name, created.is_private], ['alice', 'one', true]);
    await expectProblem(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'two', is_private: true }, auth: alice }), 403, FREE_LIMIT, 'plan-limit');
    await expectProblem(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'one' }, auth: alice }), 409);
    await expectProblem(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'x' }, auth: bob }), 403, /owner/, 'forbidden');
    await expectProblem(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'Bad Name' }, auth: alice }), 400);
    await expectJson(await server.api('/namespaces/alice/repositories', { method: 'POST', json: { name: 'open', is_private: false }, auth: alice }), 201);
    await expectProblem(await server.api('/repositories/alice/open', { method: 'PATCH', json: { is_private: true }, auth: alice }), 403, FREE_LIMIT, 'plan-limit');
    assert.equal((await server.hub.repositories.visibility('alice/open')).private, false);
  });

  it('shows a namespace its usage against its plan, and nobody else', async () => {
    const usage = await expectJson<Record<string, unknown>>(await server.api('/namespaces/alice/usage', { auth: alice }), 200);
    assert.deepEqual(
      { ...usage, plan: (usage.plan as PlanJson).name },
      {
        namespace: 'alice',
        plan: 'free',
        billed_to: 'alice',
        billed_namespaces: ['alice'],
        storage_bytes: 0,
        private_repositories: 1,
        limits: { storage_bytes: 2_000_000_000, private_repositories: 1 },
        read_only_repositories: [],
      },
    );
    await expectJson(await server.api('/namespaces/alice/usage', { auth: admin }), 200);
    await expectProblem(await server.api('/namespaces/alice/usage', { auth: bob }), 404);
    await expectProblem(await server.api('/namespaces/alice/usage'), 401);
  });

  it('answers the upload POST of a second private repository with 403 DENIED and the plan, before any byte', async () => {
    await expectJson(await server.api('/users/me', { method: 'PATCH', json: { default_private: true }, auth: { basic: ['carol', PASSWORD] } }), 200);
    const token = await tokenFor(server.url, login('carol'), ['repository:carol/first:pull,push', 'repository:carol/second:pull,push']);
    await pushImage(server.url, 'carol/first', 'v1', { token });
    assert.deepEqual(await server.hub.repositories.visibility('carol/first'), { exists: true, private: true });

    const post = await fetch(`${server.url}/v2/carol/second/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
    await assertOciError(post, 403, 'DENIED', { message: FREE_LIMIT });
    const monolithic = await fetch(`${server.url}/v2/carol/second/blobs/uploads/?digest=sha256:${'a'.repeat(64)}`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
      body: bin(randomBytes(64)),
    });
    await assertOciError(monolithic, 403, 'DENIED', { message: FREE_LIMIT });
    assert.deepEqual(await server.database.db.selectFrom('uploads').select('id').where('repository', '=', 'carol/second').execute(), []);
    assert.equal((await server.hub.repositories.visibility('carol/second')).exists, false);

    // an upgrade lets the same token push at once
    await expectJson(await server.api('/namespaces/carol/plan', { method: 'PUT', json: { plan: 'pro' }, auth: admin }), 200);
    await pushImage(server.url, 'carol/second', 'v1', { token });
    // a downgrade makes the newer one read-only: its pull works, its push is refused with the reason
    await expectJson(await server.api('/namespaces/carol/plan', { method: 'PUT', json: { plan: 'free' }, auth: admin }), 200);
    const usage = await expectJson<{ read_only_repositories: string[] }>(await server.api('/namespaces/carol/usage', { auth: { basic: ['carol', PASSWORD] } }), 200);
    assert.deepEqual(usage.read_only_repositories, ['carol/second']);
    const readOnly = await fetch(`${server.url}/v2/carol/second/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
    await assertOciError(readOnly, 403, 'DENIED', { message: /carol\/second is read-only: the free plan allows 1 private repository; carol has 2/ });
    const pull = await fetch(`${server.url}/v2/carol/second/manifests/v1`, { headers: { ...bearer(token), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(pull.status, 200);
    await pull.arrayBuffer();
    const other = await fetch(`${server.url}/v2/carol/first/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
    assert.equal(other.status, 202, 'the oldest stays writable');
  });

  it('stops an upload that streams past the storage quota, and still answers with the reason', async () => {
    const token = await tokenFor(server.url, login('dave'), ['repository:dave/app:pull,push']);
    await pushImage(server.url, 'dave/app', 'v1', { token });
    const used = (await expectJson<{ storage_bytes: number }>(await server.api('/namespaces/dave/usage', { auth: admin }), 200)).storage_bytes;
    assert.ok(used > 512);
    await server.hub.plans.update('free', { storageBytes: used + 1000 });
    try {
      const start = await fetch(`${server.url}/v2/dave/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      assert.equal(start.status, 202);
      const location = new URL(start.headers.get('location')!, server.url).toString();
      const patch = await fetch(location, {
        method: 'PATCH',
        headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(randomBytes(500)));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      await assertOciError(patch, 403, 'DENIED', { message: /past the .* of storage of the free plan — delete images or ask an administrator for the pro plan/ });
      await assertOciError(await fetch(location, { headers: bearer(token) }), 404, 'BLOB_UPLOAD_UNKNOWN');

      await server.hub.plans.update('free', { storageBytes: used });
      const full = await fetch(`${server.url}/v2/dave/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      await assertOciError(full, 403, 'DENIED', { message: /dave has used .* of storage of the free plan/ });
    } finally {
      await server.hub.plans.update('free', { storageBytes: 2_000_000_000 });
    }
  });
});
