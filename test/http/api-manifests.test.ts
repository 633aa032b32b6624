// GET and DELETE /api/v1/repositories/{namespace}/{name}/manifests/{digest} (issue 11): a manifest
// by digest with its tags and platforms; deleting it with every tag naming it, as /v2 DELETE by
// digest; delete permission as for a tag; private repositories answer outsiders exactly like
// missing ones; immutable tags refuse it; audited, with the outbox's 'manifest.deleted' event.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { tokenFor } from '../support/auth.js';
import { makeImage, pushImage, type TestImage } from '../support/images.js';
import { testBackends } from '../support/server.js';

for (const { backend, options } of await testBackends()) {
  describe(`API: a manifest by digest (${backend})`, options, () => {
    let server: ApiServer;
    const olive = { basic: ['olive', PASSWORD] as [string, string] };
    const rita = { basic: ['rita', PASSWORD] as [string, string] };
    const boss = { basic: ['boss', PASSWORD] as [string, string] };
    const images: Record<string, TestImage> = {};
    const path = (repository: string, digest: string) => `/repositories/${repository}/manifests/${encodeURIComponent(digest)}`;
    const remove = (repository: string, digest: string, auth?: { basic: [string, string] }) => server.api(path(repository, digest), { method: 'DELETE', ...(auth ? { auth } : {}) });
    const tagsOf = async (repository: string) =>
      (await server.database.db.selectFrom('tags').select(['name', 'digest']).where('repository', '=', repository).orderBy('name').execute()).map((t) => t.name);

    before(async () => {
      server = await startApiServer({ 'auth.loginFailures': 1000 }, { backend });
      await createUser(server, 'olive');
      await createUser(server, 'rita');
      await createUser(server, 'boss', { admin: true });
      await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
      await expectJson(await server.api('/namespaces/acme/plan', { method: 'PUT', json: { plan: 'team' }, auth: boss }), 200);
      const token = await tokenFor(server.url, { username: 'olive', secret: PASSWORD }, ['repository:acme/app:pull,push', 'repository:acme/secret:pull,push']);
      for (const key of ['a', 'b', 'c', 's']) images[key] = makeImage();
      await pushImage(server.url, 'acme/app', 'one', { image: images.a!, token });
      await pushImage(server.url, 'acme/app', 'two', { image: images.a!, token });
      await pushImage(server.url, 'acme/app', 'three', { image: images.b!, token });
      await pushImage(server.url, 'acme/app', 'v1', { image: images.c!, token });
      await pushImage(server.url, 'acme/secret', 'one', { image: images.s!, token });
      await expectJson(await server.api('/repositories/acme/secret', { method: 'PATCH', json: { is_private: true }, auth: olive }), 200);
    });
    after(() => server?.stop());

    it('GET: a manifest by digest with its kind, size, platforms and the tags naming it', async () => {
      const manifest = await expectJson<{ digest: string; content_type: string; full_size: number; tags: string[]; images: Array<{ digest: string; size: number }> }>(
        await server.api(path('acme/app', images.a!.digest)),
        200,
      );
      assert.deepEqual([manifest.digest, manifest.content_type, manifest.tags], [images.a!.digest, 'image', ['one', 'two']]);
      assert.ok(manifest.full_size > 0);
      assert.deepEqual(manifest.images.map((i) => [i.digest, i.size]), [[images.a!.digest, manifest.full_size]]);
      const hidden = await expectProblem(await server.api(path('acme/secret', images.s!.digest), { auth: rita }), 404, undefined, 'not-found');
      const missing = await expectProblem(await server.api(path('acme/nothing', images.s!.digest), { auth: rita }), 404, undefined, 'not-found');
      assert.equal(hidden.detail.replace('acme/secret', 'X'), missing.detail.replace('acme/nothing', 'X'));
      assert.deepEqual((await expectJson<{ tags: string[] }>(await server.api(path('acme/secret', images.s!.digest), { auth: olive }), 200)).tags, ['one']);
      await expectProblem(await server.api(path('acme/app', images.s!.digest)), 404, /manifest sha256:[0-9a-f]{64} not found in acme\/app/, 'not-found');
      await expectProblem(await server.api(path('acme/app', 'sha256:1234')), 400, /invalid sha256 digest/, 'validation');
    });

    it('a private repository answers an outsider as a missing one; anonymous callers sign in first', async () => {
      const hidden = await expectProblem(await remove('acme/secret', images.s!.digest, rita), 404, undefined, 'not-found');
      const missing = await expectProblem(await remove('acme/nothing', images.s!.digest, rita), 404, undefined, 'not-found');
      assert.equal(hidden.detail.replace('acme/secret', 'X'), missing.detail.replace('acme/nothing', 'X'));
      await expectProblem(await remove('acme/app', images.a!.digest), 401);
      assert.deepEqual(await tagsOf('acme/secret'), ['one']);
    });

    it('who may read but not delete is refused; a malformed digest is a validation problem, an unknown one not found', async () => {
      await expectProblem(await remove('acme/app', images.a!.digest, rita), 403, /needs delete permission/, 'forbidden');
      await expectProblem(await remove('acme/app', 'sha256:nothex', olive), 400, /invalid sha256 digest/, 'validation');
      await expectProblem(await remove('acme/app', 'latest', olive), 400, /invalid digest/, 'validation');
      await expectProblem(await remove('acme/app', `sha256:${'0'.repeat(64)}`, olive), 404, /not found in acme\/app/, 'not-found');
    });

    it('deletes the manifest and every tag naming it, audited and in the outbox; other manifests stay', async () => {
      assert.equal((await remove('acme/app', images.a!.digest, olive)).status, 204);
      assert.deepEqual(await tagsOf('acme/app'), ['three', 'v1']);
      assert.equal((await fetch(`${server.url}/v2/acme/app/manifests/${images.a!.digest}`, { method: 'HEAD' })).status, 401); // token mode: ask with a token
      const token = await tokenFor(server.url, { username: 'olive', secret: PASSWORD }, ['repository:acme/app:pull']);
      const gone = await fetch(`${server.url}/v2/acme/app/manifests/${images.a!.digest}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(gone.status, 404);
      await expectProblem(await remove('acme/app', images.a!.digest, olive), 404, /not found/, 'not-found');
      const audit = await server.database.db.selectFrom('audit_events').select(['action', 'target', 'actor', 'result']).where('action', '=', 'manifest.deleted').execute();
      const target = `acme/app@${images.a!.digest}`;
      const entries = audit.filter((e) => e.target === target).map((e) => `${e.actor} ${e.result}`);
      // the anonymous try and rita's refused, olive's deletion, olive's second try (not found)
      assert.deepEqual(entries.sort(), ['null refused', 'olive failed', 'olive ok', 'rita refused']);
      const events = await server.database.db.selectFrom('outbox').select(['type', 'payload']).where('type', '=', 'manifest.deleted').execute();
      const payloads = events.map((e) => JSON.parse(e.payload) as { repository: string; digest: string; actor: string });
      assert.deepEqual(payloads.filter((p) => p.digest === images.a!.digest).map((p) => [p.repository, p.actor]), [['acme/app', 'olive']]);
    });

    it('a manifest that an immutable tag names is refused, naming the rule; it stays', async () => {
      await expectJson(await server.api('/repositories/acme/app/immutable-tags', { method: 'POST', json: { pattern: 'v*' }, auth: olive }), 201);
      await expectProblem(await remove('acme/app', images.c!.digest, olive), 403, /^tag "v1" of acme\/app is immutable \(rule "v\*"\) and cannot be deleted/, 'forbidden');
      assert.deepEqual(await tagsOf('acme/app'), ['three', 'v1']);
      assert.equal((await remove('acme/app', images.b!.digest, olive)).status, 204);
      assert.deepEqual(await tagsOf('acme/app'), ['v1']);
    });
  });
}
