// Immutable tags (issue 11): per repository, tag patterns whose tags a push may create, or push
// again with the same manifest, but never move nor anyone delete (a tag, or the manifest it
// names); refusals are DENIED naming the rule, on /v2 and the API. A plan feature, checked where
// the rules are set and where they apply: after a downgrade they stand, unenforced.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, tokenFor, type Login } from '../support/auth.js';
import { makeImage, pushImage, type TestImage } from '../support/images.js';
import { assertOciError } from '../support/oci.js';
import { testBackends } from '../support/server.js';

for (const { backend, options } of await testBackends()) {
  describe(`immutable tags (${backend})`, options, () => {
    let server: ApiServer;
    let token: string;
    const olive = { basic: ['olive', PASSWORD] as [string, string] };
    const boss = { basic: ['boss', PASSWORD] as [string, string] };
    const oliveLogin: Login = { username: 'olive', secret: PASSWORD };
    const rules = '/repositories/acme/app/immutable-tags';
    const setPlan = async (plan: string) => expectJson(await server.api('/namespaces/acme/plan', { method: 'PUT', json: { plan }, auth: boss }), 200);
    let a: TestImage;
    let b: TestImage;

    const putManifest = (image: TestImage, reference: string) =>
      fetch(`${server.url}/v2/acme/app/manifests/${reference}`, { method: 'PUT', headers: { ...bearer(token), 'content-type': image.mediaType }, body: new Uint8Array(image.manifest) });
    const push = async (image: TestImage, tag: string) => pushImage(server.url, 'acme/app', tag, { image, token });
    const v2Delete = (reference: string) => fetch(`${server.url}/v2/acme/app/manifests/${reference}`, { method: 'DELETE', headers: bearer(token) });
    const denied = (tag: string, rule: string, what: string) => new RegExp(`^tag "${tag}" of acme/app is immutable \\(rule "${rule.replace(/[\\^$.*+?()[\]{}|/]/g, (c) => `\\${c}`)}"\\) and cannot be ${what}`);

    before(async () => {
      server = await startApiServer({ 'auth.loginFailures': 1000 }, { backend });
      await createUser(server, 'olive');
      await createUser(server, 'boss', { admin: true });
      await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
      token = await tokenFor(server.url, oliveLogin, ['repository:acme/app:pull,push,delete']);
      a = makeImage();
      b = makeImage();
      await push(a, 'v1');
      await push(a, 'latest');
    });
    after(() => server?.stop());

    it('a rule is a plan feature: refused on the free plan, naming it', async () => {
      await expectProblem(await server.api(rules, { method: 'POST', json: { pattern: 'v*' }, auth: olive }), 403, /an immutable tag rule needs the "tag-immutability" feature/, 'plan-limit');
    });

    it('on the team plan the repository’s administrators add rules; anyone who sees it lists them; bad patterns are refused', async () => {
      await setPlan('team');
      const rule = await expectJson<{ pattern: string; created_by: string }>(await server.api(rules, { method: 'POST', json: { pattern: 'v*' }, auth: olive }), 201);
      assert.deepEqual([rule.pattern, rule.created_by], ['v*', 'olive']);
      await expectJson(await server.api(rules, { method: 'POST', json: { pattern: '/^rel-\\d+$/' }, auth: olive }), 201);
      await expectJson(await server.api(rules, { method: 'POST', json: { pattern: 'v*' }, auth: olive }), 201);
      await expectProblem(await server.api(rules, { method: 'POST', json: { pattern: '/(/' }, auth: olive }), 400, /invalid regular expression/, 'validation');
      await expectProblem(await server.api(rules, { method: 'POST', json: { pattern: 'a b' }, auth: olive }), 400, /glob pattern/, 'validation');
      await createUser(server, 'rita');
      await expectProblem(await server.api(rules, { method: 'POST', json: { pattern: 'x*' }, auth: { basic: ['rita', PASSWORD] } }), 403, undefined, 'forbidden');
      const listed = await expectJson<{ results: { pattern: string }[] }>(await server.api(rules), 200);
      assert.deepEqual(listed.results.map((r) => r.pattern), ['/^rel-\\d+$/', 'v*']);
      const audit = await server.database.db.selectFrom('audit_events').select(['action', 'target']).where('action', '=', 'immutable_tag_rule.created').execute();
      assert.ok(audit.length >= 3 && audit.every((e) => e.target === 'acme/app'), JSON.stringify(audit));
    });

    it('a push that would move a matching tag is DENIED naming the rule; the same manifest again, a new tag and other tags are pushed', async () => {
      await assertOciError(await putManifest(b, 'v1'), 403, 'DENIED', { message: denied('v1', 'v*', 'moved to another manifest') });
      await push(a, 'v1');
      await push(b, 'v2');
      await push(b, 'rel-1');
      await assertOciError(await putManifest(a, 'rel-1'), 403, 'DENIED', { message: denied('rel-1', '/^rel-\\d+$/', 'moved to another manifest') });
      await push(b, 'latest');
      await push(a, 'rel-x');
      await push(b, 'rel-x');
      const tags = await server.database.db.selectFrom('tags').select(['name', 'digest']).where('repository', '=', 'acme/app').orderBy('name').execute();
      assert.deepEqual(tags.map((t) => [t.name, t.digest]), [['latest', b.digest], ['rel-1', b.digest], ['rel-x', b.digest], ['v1', a.digest], ['v2', b.digest]]);
    });

    it('parallel first pushes of a new protected tag with different manifests: exactly one wins, the others are DENIED naming the rule', async () => {
      const images = Array.from({ length: 8 }, () => makeImage());
      // their blobs first (under tags no rule protects), so that only the new tag is raced for
      for (const [i, image] of images.entries()) await push(image, `race-${i}`);
      const answers = await Promise.all(images.map((image) => putManifest(image, 'v-race')));
      const won = answers.flatMap((answer, i) => (answer.status === 201 ? [images[i]!] : []));
      assert.equal(won.length, 1, `statuses: ${answers.map((a) => a.status).join(', ')}`);
      for (const answer of answers) if (answer.status !== 201) await assertOciError(answer, 403, 'DENIED', { message: denied('v-race', 'v*', 'moved to another manifest') });
      const tag = await server.database.db.selectFrom('tags').select('digest').where('repository', '=', 'acme/app').where('name', '=', 'v-race').executeTakeFirstOrThrow();
      assert.equal(tag.digest, won[0]!.digest);
      // the same manifest again keeps it
      assert.equal((await putManifest(won[0]!, 'v-race')).status, 201);
    });

    it('deleting a matching tag, or the manifest it names, is DENIED on /v2 and refused on the API; other tags go', async () => {
      await assertOciError(await v2Delete('v1'), 403, 'DENIED', { message: denied('v1', 'v*', 'deleted') });
      await assertOciError(await v2Delete(a.digest), 403, 'DENIED', { message: denied('v1', 'v*', 'deleted') });
      await expectProblem(await server.api('/repositories/acme/app/tags/v2', { method: 'DELETE', auth: olive }), 403, denied('v2', 'v*', 'deleted'), 'forbidden');
      assert.equal((await v2Delete('rel-x')).status, 202);
      assert.equal((await server.api('/repositories/acme/app/tags/latest', { method: 'DELETE', auth: olive })).status, 204);
    });

    it('after a downgrade the rules stand but do not apply; the plan back, they apply again', async () => {
      await setPlan('free');
      assert.equal((await server.api(rules)).status, 200);
      await push(b, 'v1');
      await setPlan('team');
      await assertOciError(await putManifest(a, 'v1'), 403, 'DENIED', { message: denied('v1', 'v*', 'moved to another manifest') });
    });

    it('a rule removed (pattern as a query parameter) no longer protects; removing it again is not found', async () => {
      assert.equal((await server.api(`${rules}?pattern=${encodeURIComponent('v*')}`, { method: 'DELETE', auth: olive })).status, 204);
      await expectProblem(await server.api(`${rules}?pattern=${encodeURIComponent('v*')}`, { method: 'DELETE', auth: olive }), 404, /no immutable tag rule "v\*"/, 'not-found');
      // the audit entries name the pattern, the removal and the try that found nothing
      const audit = await server.database.db.selectFrom('audit_events').select(['actor', 'target', 'result', 'details']).where('action', '=', 'immutable_tag_rule.deleted').execute();
      assert.deepEqual(audit.map((e) => [e.actor, e.target, e.result, JSON.parse(e.details ?? 'null')]).sort(), [
        ['olive', 'acme/app', 'failed', { pattern: 'v*' }],
        ['olive', 'acme/app', 'ok', { pattern: 'v*' }],
      ]);
      await push(a, 'v1');
      assert.equal((await v2Delete('v2')).status, 202);
    });

    it('the rules go with their repository', async () => {
      assert.equal((await server.api('/repositories/acme/app', { method: 'DELETE', auth: olive })).status, 204);
      assert.deepEqual(await server.database.db.selectFrom('immutable_tag_rules').selectAll().execute(), []);
    });
  });
}
