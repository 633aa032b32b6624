// Retention policies over HTTP (issue 11, docs/retention.md): the routes of a repository and of a
// namespace, who may read and change them (an outsider and a reader are refused, a private
// repository stays invisible), a dry run and a run, each deletion recorded (outbox event, audit
// entry), the plan feature; and the schedule (retention.schedule) applying a policy by itself.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { tokenFor, type Login } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { startTestServer, testBackends } from '../support/server.js';

interface RunJson {
  dry_run: boolean;
  repository: string;
  policy_from: string;
  deleted: { tag: string; digest: string; reason: string }[];
  kept: { tag: string; rule: string; reason: string }[];
}

for (const { backend, options } of await testBackends()) {
  describe(`retention API (${backend})`, options, () => {
    let server: ApiServer;
    let token: string;
    const olive = { basic: ['olive', PASSWORD] as [string, string] };
    const boss = { basic: ['boss', PASSWORD] as [string, string] };
    const rita = { basic: ['rita', PASSWORD] as [string, string] };
    const oliveLogin: Login = { username: 'olive', secret: PASSWORD };
    const app = '/repositories/acme/app/retention';
    const tagsOf = async (repository: string) =>
      (await server.database.db.selectFrom('tags').select('name').where('repository', '=', repository).orderBy('name').execute()).map((r) => r.name);

    before(async () => {
      server = await startApiServer({ 'auth.loginFailures': 1000 }, { backend });
      await createUser(server, 'olive');
      await createUser(server, 'boss', { admin: true });
      await createUser(server, 'rita');
      await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
      token = await tokenFor(server.url, oliveLogin, ['repository:acme/app:pull,push', 'repository:acme/secret:pull,push']);
      for (const tag of ['t1', 't2', 't3', 't4']) {
        await pushImage(server.url, 'acme/app', tag, { token });
        await sleep(5);
      }
      await pushImage(server.url, 'acme/secret', 'x', { token });
      await expectJson(await server.api('/repositories/acme/secret', { method: 'PATCH', json: { is_private: true }, auth: olive }), 200);
    });
    after(() => server?.stop());

    it('a policy is a plan feature: refused on the free plan, naming it', async () => {
      await expectProblem(await server.api(app, { method: 'PUT', json: { keep_last: 2 }, auth: olive }), 403, /a retention policy needs the "retention-policies" feature/, 'plan-limit');
      await expectProblem(await server.api('/namespaces/acme/retention', { method: 'PUT', json: { keep_last: 2 }, auth: olive }), 403, /retention-policies/, 'plan-limit');
      await expectJson(await server.api('/namespaces/acme/plan', { method: 'PUT', json: { plan: 'team' }, auth: boss }), 200);
    });

    it('the repository’s administrators set, read and remove it; a policy without a rule is refused', async () => {
      assert.deepEqual(await expectJson(await server.api(app, { auth: olive }), 200), { policy: null, inherited_from: null, effective: null });
      await expectProblem(await server.api(app, { method: 'PUT', json: {}, auth: olive }), 400, /at least one rule/, 'validation');
      await expectProblem(await server.api(app, { method: 'PUT', json: { keep_last: null, keep_pattern: null }, auth: olive }), 400, /at least one rule/, 'validation');
      await expectProblem(await server.api(app, { method: 'PUT', json: { keep_last: 0 }, auth: olive }), 400, undefined, 'validation');
      const pattern = await expectProblem(await server.api(app, { method: 'PUT', json: { keep_pattern: '/(/' }, auth: olive }), 400, undefined, 'validation');
      assert.equal(pattern.errors?.[0]?.field, 'keep_pattern');
      assert.match(pattern.errors?.[0]?.message ?? '', /invalid regular expression/);
      await expectProblem(await server.api(app, { method: 'PUT', json: { keep_forever: true }, auth: olive }), 400, undefined, 'validation');
      const set = await expectJson(await server.api(app, { method: 'PUT', json: { keep_last: 2 }, auth: olive }), 200);
      const policy = { keep_last: 2, keep_pulled_days: null, keep_pattern: null };
      assert.deepEqual(set, { policy, inherited_from: null, effective: policy });
      assert.deepEqual(await expectJson(await server.api(app, { auth: boss }), 200), set);
    });

    it('an outsider and a reader are refused; a private repository stays invisible (the same 404 as a missing one)', async () => {
      await expectProblem(await server.api(app, { auth: rita }), 403, undefined, 'forbidden');
      await expectProblem(await server.api(app, { method: 'PUT', json: { keep_last: 1 }, auth: rita }), 403, undefined, 'forbidden');
      await expectProblem(await server.api(`${app}/run?dry_run=true`, { method: 'POST', auth: rita }), 403, undefined, 'forbidden');
      await expectProblem(await server.api(app, { method: 'DELETE', auth: rita }), 403, undefined, 'forbidden');
      const hidden = await expectProblem(await server.api('/repositories/acme/secret/retention', { auth: rita }), 404, undefined, 'not-found');
      const missing = await expectProblem(await server.api('/repositories/acme/missing/retention', { auth: rita }), 404, undefined, 'not-found');
      assert.equal(hidden.detail?.replace('secret', 'X'), missing.detail?.replace('missing', 'X'));
      await expectProblem(await server.api('/repositories/acme/secret/retention/run', { method: 'POST', auth: rita }), 404, undefined, 'not-found');
      await expectProblem(await server.api('/namespaces/acme/retention', { auth: rita }), 403, undefined, 'forbidden');
      await expectProblem(await server.api('/namespaces/acme/retention/run?dry_run=true', { method: 'POST', auth: rita }), 403, undefined, 'forbidden');
      await expectProblem(await server.api(app), 401, undefined, 'unauthorized');
      await expectProblem(await server.api('/namespaces/nobody/retention', { auth: olive }), 404, undefined, 'not-found');
      // a token of the owner reads the namespace's policy; changing or running it needs repo:admin
      const read = (await server.hub.tokens.createPersonalAccessToken('olive', { label: 'read', scopes: ['repo:read'] })).token;
      const admin = (await server.hub.tokens.createPersonalAccessToken('olive', { label: 'admin', scopes: ['repo:admin'] })).token;
      await expectJson(await server.api('/namespaces/olive/retention', { auth: { basic: ['olive', read] } }), 200);
      await expectProblem(await server.api('/namespaces/olive/retention/run?dry_run=true', { method: 'POST', auth: { basic: ['olive', read] } }), 403, /repo:admin/, 'forbidden');
      await expectProblem(await server.api('/namespaces/olive/retention', { method: 'DELETE', auth: { basic: ['olive', read] } }), 403, /repo:admin/, 'forbidden');
      await expectProblem(await server.api('/namespaces/olive/retention', { method: 'DELETE', auth: { basic: ['olive', admin] } }), 404, /no retention policy of its own/, 'not-found');
      await expectProblem(await server.api(`${app}/run?dry_run=true`, { method: 'POST', auth: { basic: ['olive', read] } }), 403, undefined, 'forbidden');
    });

    it('a dry run lists what would go and what is kept, and why; a run deletes it, each deletion recorded', async () => {
      const dry = await expectJson<RunJson>(await server.api(`${app}/run?dry_run=true`, { method: 'POST', auth: olive }), 200);
      assert.equal(dry.dry_run, true);
      assert.equal(dry.policy_from, 'repository');
      assert.deepEqual(dry.kept.map((t) => [t.tag, t.rule]), [['t4', 'keep_last'], ['t3', 'keep_last']]);
      assert.deepEqual(dry.deleted.map((t) => t.tag), ['t2', 't1']);
      assert.match(dry.deleted[0]!.reason, /not among the 2 most recently pushed \(#3\)/);
      assert.deepEqual(await tagsOf('acme/app'), ['t1', 't2', 't3', 't4']);

      const run = await expectJson<RunJson>(await server.api(`${app}/run`, { method: 'POST', auth: olive }), 200);
      assert.equal(run.dry_run, false);
      assert.deepEqual(run.deleted.map((t) => t.tag), ['t2', 't1']);
      assert.deepEqual(await tagsOf('acme/app'), ['t3', 't4']);
      const listed = await fetch(`${server.url}/v2/acme/app/tags/list`, { headers: { authorization: `Bearer ${token}` } });
      assert.deepEqual(((await listed.json()) as { tags: string[] }).tags, ['t3', 't4']);

      const events = await server.database.db.selectFrom('outbox').select('payload').where('type', '=', 'tag.deleted').execute();
      const payloads = events.map((e) => JSON.parse(e.payload) as { tag: string; reason?: string });
      assert.deepEqual(payloads.map((p) => p.tag).sort(), ['t1', 't2']);
      assert.ok(payloads.every((p) => p.reason?.startsWith('the retention policy of acme/app: not among the 2 most recently pushed')));
      const audit = await server.database.db.selectFrom('audit_events').select(['action', 'actor', 'via', 'target', 'details', 'result']).where('action', 'in', ['tag.deleted', 'retention.run']).orderBy('target').execute();
      assert.deepEqual(audit.filter((a) => a.action === 'tag.deleted').map((a) => [a.target, a.via, a.actor]), [['acme/app:t1', 'retention', null], ['acme/app:t2', 'retention', null]]);
      // who asked for each run (rita's refused attempts are there too, as refused)
      const runs = audit.filter((a) => a.action === 'retention.run' && a.actor === 'olive' && a.result === 'ok').map((a) => a.details).sort();
      assert.deepEqual(runs, ['{"dry_run":false}', '{"dry_run":true}']);
      const refused = audit.filter((a) => a.action === 'retention.run' && a.actor === 'rita' && a.target === 'acme/app');
      assert.ok(refused.length === 1 && refused.every((a) => a.result === 'refused'), JSON.stringify(refused));
    });

    it('a namespace’s policy is inherited by its repositories without their own, and runs over them', async () => {
      const ns = await expectJson(await server.api('/namespaces/acme/retention', { method: 'PUT', json: { keep_pattern: 'x*' }, auth: olive }), 200);
      assert.deepEqual(ns, { policy: { keep_last: null, keep_pulled_days: null, keep_pattern: 'x*' }, inherited_from: null, effective: { keep_last: null, keep_pulled_days: null, keep_pattern: 'x*' } });
      assert.deepEqual(await expectJson(await server.api('/repositories/acme/secret/retention', { auth: olive }), 200), {
        policy: null,
        inherited_from: 'namespace',
        effective: { keep_last: null, keep_pulled_days: null, keep_pattern: 'x*' },
      });
      const dry = await expectJson<{ dry_run: boolean; repositories: RunJson[] }>(await server.api('/namespaces/acme/retention/run?dry_run=true', { method: 'POST', auth: olive }), 200);
      assert.deepEqual(dry.repositories.map((r) => [r.repository, r.policy_from, r.deleted.length, r.kept.length]), [['acme/app', 'repository', 0, 2], ['acme/secret', 'namespace', 0, 1]]);
      assert.equal((await server.api(app, { method: 'DELETE', auth: olive })).status, 204);
      await expectProblem(await server.api(app, { method: 'DELETE', auth: olive }), 404, /no retention policy of its own/, 'not-found');
      const run = await expectJson<{ repositories: RunJson[] }>(await server.api('/namespaces/acme/retention/run', { method: 'POST', auth: olive }), 200);
      assert.deepEqual(run.repositories.map((r) => [r.repository, r.deleted.map((t) => t.tag)]), [['acme/app', ['t4', 't3']], ['acme/secret', []]]);
      assert.deepEqual(await tagsOf('acme/app'), []);
      assert.equal((await server.api('/namespaces/acme/retention', { method: 'DELETE', auth: olive })).status, 204);
      await expectProblem(await server.api(`${app}/run`, { method: 'POST', auth: olive }), 409, /no retention policy applies to acme\/app/, 'conflict');
    });
  });
}

describe('retention on a schedule', () => {
  it('a server with retention.schedule applies a policy by itself', async () => {
    const server = await startTestServer({ 'retention.schedule': '300ms' });
    try {
      for (const tag of ['a', 'b', 'c']) {
        await pushImage(server.url, 'library/app', tag);
        await sleep(5);
      }
      // the official namespace has every plan feature
      await server.hub.retention.set('repository', 'library/app', { keepLast: 1, keepPulledDays: null, keepPattern: null }, null);
      const deadline = Date.now() + 15_000;
      let tags: string[] = [];
      while (Date.now() < deadline) {
        tags = (await server.database.db.selectFrom('tags').select('name').where('repository', '=', 'library/app').execute()).map((r) => r.name);
        if (tags.length === 1) break;
        await sleep(100);
      }
      assert.deepEqual(tags, ['c']);
      const runs = await server.database.db.selectFrom('retention_runs').select(['trigger', 'status']).execute();
      assert.ok(runs.length >= 1 && runs.every((r) => r.trigger === 'schedule' && r.status === 'succeeded'), JSON.stringify(runs));
    } finally {
      await server.stop();
    }
  });
});
