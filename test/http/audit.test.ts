// The audit log: every security-relevant action through the API and /token writes who, when,
// from which address (and user agent, request id), on what, with what result; administrators
// read everything, an account what concerns it, an organisation's owners their organisation;
// filters by actor, action and time; `pier audit export` writes the same entries as JSON lines.
// Every state-changing route of the API is in the audit table (src/http/api/audit-trail.ts);
// /v2 writes its deletions and the repositories a first push creates, and commands of `pier`
// that change state write theirs (via 'cli').
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AUDITED } from '../../src/http/api/audit-trail.js';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { tokenFor, tokenGet } from '../support/auth.js';
import { runPier } from '../support/cli.js';
import { pushImage } from '../support/images.js';
import { testBackends } from '../support/server.js';

interface Entry {
  id: string;
  at: string;
  actor: string | null;
  via: string | null;
  action: string;
  target: string | null;
  namespace: string | null;
  result: 'ok' | 'failed' | 'refused';
  address: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
}
interface Page {
  count: number;
  results: Entry[];
}

const as = (name: string) => ({ basic: [name, PASSWORD] as [string, string] });
const AGENT = { 'user-agent': 'audit-test/1.0' };

for (const { backend, options } of await testBackends()) {
  describe(`the audit log (${backend})`, options, () => {
    let server: ApiServer;
    const call = (path: string, init: Parameters<ApiServer['api']>[1] = {}) => server.api(path, { ...init, headers: { ...AGENT, ...init.headers } });
    const read = async (path: string, who: string) => expectJson<Page>(await server.api(path, { auth: as(who) }), 200);
    const find = (page: Page, action: string, predicate: (e: Entry) => boolean = () => true) => page.results.find((e) => e.action === action && predicate(e));

    before(async () => {
      server = await startApiServer({ 'auth.loginFailures': 1000 }, { backend });
      await createUser(server, 'boss', { admin: true });
      for (const name of ['olive', 'mark', 'alice', 'gone']) await createUser(server, name);
      await expectJson(await call('/orgs', { method: 'POST', json: { name: 'acme' }, auth: as('olive') }), 201);
      await expectJson(await call('/namespaces/acme/plan', { method: 'PUT', json: { plan: 'team' }, auth: as('boss') }), 200);
      await expectJson(await call('/orgs/acme/members', { method: 'POST', json: { username: 'mark' }, auth: as('olive') }), 201);
      await expectJson(await call('/orgs/acme/members/mark', { method: 'PATCH', json: { role: 'owner' }, auth: as('olive') }), 200);
      await expectJson(await call('/orgs/acme/members/mark', { method: 'PATCH', json: { role: 'member' }, auth: as('olive') }), 200);
      await expectJson(await call('/orgs/acme/members', { method: 'POST', json: { username: 'alice' }, auth: as('olive') }), 201);
      assert.equal((await call('/orgs/acme/members/alice', { method: 'DELETE', auth: as('olive') })).status, 204);
      await expectJson(await call('/orgs/acme/teams', { method: 'POST', json: { name: 'devs' }, auth: as('olive') }), 201);
      await expectJson(await call('/orgs/acme/teams/devs/permissions/app', { method: 'PUT', json: { permission: 'write' }, auth: as('olive') }), 200);
      await expectJson(await call('/namespaces/acme/repositories', { method: 'POST', json: { name: 'app', is_private: true }, auth: as('olive') }), 201);
      await expectJson(await call('/repositories/acme/app', { method: 'PATCH', json: { is_private: false }, auth: as('olive') }), 200);
      // mark may not: refused, and recorded
      await expectProblem(await call('/repositories/acme/app', { method: 'PATCH', json: { is_private: true }, auth: as('mark') }), 403);
      await pushImage(server.registry, 'acme/app', 'old');
      assert.equal((await call('/repositories/acme/app/tags/old', { method: 'DELETE', auth: as('olive') })).status, 204);
      await expectJson(await call('/namespaces/acme/repositories', { method: 'POST', json: { name: 'tmp' }, auth: as('olive') }), 201);
      assert.equal((await call('/repositories/acme/tmp', { method: 'DELETE', auth: as('olive') })).status, 204);
      const token = await expectJson<{ id: string }>(await call('/users/me/tokens', { method: 'POST', json: { label: 'ci', scopes: ['repo:read'] }, auth: as('alice') }), 201);
      assert.equal((await call(`/users/me/tokens/${token.id}`, { method: 'DELETE', auth: as('alice') })).status, 204);
      await expectJson(await call('/users/login', { method: 'POST', json: { username: 'alice', password: PASSWORD } }), 200);
      await expectProblem(await call('/users/login', { method: 'POST', json: { username: 'alice', password: 'wrong password here' } }), 401);
      assert.equal((await tokenGet(server.url, { login: { username: 'mark', secret: 'not his password' }, headers: AGENT })).status, 401);
      assert.equal((await tokenGet(server.url, { login: { username: 'mark', secret: PASSWORD }, offline: true, headers: AGENT })).status, 200);
      await expectJson(await call('/settings', { method: 'PUT', json: { signup_open: false }, auth: as('boss') }), 200);
      await expectJson(await call('/users/mark', { method: 'PATCH', json: { admin: true }, auth: as('boss') }), 200);
      await expectJson(await call('/users/mark', { method: 'PATCH', json: { admin: false }, auth: as('boss') }), 200);
      await expectJson(await call('/users/gone', { method: 'DELETE', auth: as('boss') }), 200);
    });
    after(() => server?.stop());

    it('records what /v2 did: a first push creates the repository, deletions by tag and by digest, a refused one', async () => {
      const login = { username: 'olive', secret: PASSWORD };
      const token = await tokenFor(server.url, login, ['repository:acme/first:pull,push,delete']);
      const pushed = await pushImage(server.url, 'acme/first', 'v1', { token });
      await pushImage(server.url, 'acme/first', 'v2', { token, image: pushed });
      const v2 = (method: string, path: string, bearer?: string) =>
        fetch(`${server.url}/v2/acme/first/${path}`, { method, headers: { ...AGENT, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } });
      // the token dance's first half (no credential) writes nothing; the second does
      assert.equal((await v2('DELETE', 'manifests/v1')).status, 401);
      assert.equal((await v2('DELETE', 'manifests/v1', token)).status, 202);
      assert.equal((await v2('DELETE', 'manifests/gone', token)).status, 404);
      // mark (a member, no delete on it) holds a token without delete: refused, and written
      const marks = await tokenFor(server.url, { username: 'mark', secret: PASSWORD }, ['repository:acme/first:pull,delete']);
      assert.equal((await v2('DELETE', `manifests/${pushed.digest}`, marks)).status, 401);
      assert.equal((await v2('DELETE', `manifests/${pushed.digest}`, token)).status, 202);

      const page = await read('/audit?namespace=acme&page_size=100', 'olive');
      const of = (action: string) => page.results.filter((e) => e.action === action && e.target?.startsWith('acme/first'));
      const [created, ...again] = of('repository.created');
      assert.equal(again.length, 0, 'one entry: the first push');
      assert.equal(created!.actor, 'olive');
      assert.equal(created!.via, 'registry');
      assert.equal(created!.address, '127.0.0.1');
      assert.ok(created!.request_id);
      assert.deepEqual(created!.details, { is_private: false, by: 'push' });
      const tags = of('tag.deleted');
      assert.deepEqual(
        tags.map((e) => [e.target, e.result, e.actor]),
        [
          ['acme/first:gone', 'failed', 'olive'],
          ['acme/first:v1', 'ok', 'olive'],
        ],
      );
      assert.equal(tags[1]!.user_agent, 'audit-test/1.0');
      const manifests = of('manifest.deleted');
      assert.deepEqual(
        manifests.map((e) => [e.target, e.result, e.actor]),
        [
          [`acme/first@${pushed.digest}`, 'ok', 'olive'],
          [`acme/first@${pushed.digest}`, 'refused', null],
        ],
      );
      assert.ok(manifests.every((e) => e.via === 'registry' && e.address === '127.0.0.1' && e.namespace === 'acme'));
    });

    it('records what commands of pier change (via cli, with the user who ran them)', async () => {
      const env: Record<string, string> = server.databaseUrl ? { PIER_DATABASE_URL: server.databaseUrl } : {};
      const data = ['--data', server.dataDir];
      for (const args of [
        ['org', 'add-member', 'acme', 'alice', '--role', 'member'],
        ['plan', 'set', 'alice', 'pro'],
        ['token', 'create', 'alice', '--label', 'laptop', '--scope', 'repo:read'],
      ]) {
        const run = await runPier([...args, ...data], { env });
        assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      }
      const page = await read('/audit?page_size=100', 'boss');
      const cli = page.results.filter((e) => e.via === 'cli');
      const entry = (action: string) => {
        const found = cli.find((e) => e.action === action);
        assert.ok(found, `${action}: ${JSON.stringify(cli)}`);
        assert.equal(found.actor, null);
        assert.equal(found.result, 'ok');
        assert.equal(typeof found.details?.user, 'string');
        return found;
      };
      assert.deepEqual([entry('member.added').target, entry('member.added').namespace, entry('member.added').details?.role], ['acme/alice', 'acme', 'member']);
      assert.deepEqual([entry('plan.changed').target, entry('plan.changed').details?.plan], ['alice', 'pro']);
      const token = entry('token.created');
      assert.equal(token.namespace, 'alice');
      assert.deepEqual(token.details?.scopes, ['repo:read']);
      // alice reads what was done to her account from the command line
      assert.ok(find(await read('/audit?page_size=100', 'alice'), 'token.created', (e) => e.via === 'cli'));
    });

    it('answers “who made this repository public, and from where?”', async () => {
      const page = await read('/audit?namespace=acme&action=repository.visibility', 'olive');
      const made = page.results.filter((e) => e.target === 'acme/app');
      assert.equal(made.length, 2, JSON.stringify(made));
      const [refused, publicNow] = made;
      assert.equal(publicNow!.actor, 'olive');
      assert.equal(publicNow!.result, 'ok');
      assert.deepEqual(publicNow!.details, { fields: ['is_private'], is_private: false });
      assert.equal(publicNow!.address, '127.0.0.1');
      assert.equal(publicNow!.user_agent, 'audit-test/1.0');
      assert.ok(publicNow!.request_id);
      assert.equal(publicNow!.via, 'password');
      assert.equal(refused!.actor, 'mark');
      assert.equal(refused!.result, 'refused');
    });

    it('records each action of the issue with its result', async () => {
      const all = await read('/audit?page_size=100', 'boss');
      const expect = (action: string, target: string | null, result: Entry['result'] = 'ok', actor?: string) => {
        const entry = find(all, action, (e) => e.target === target && e.result === result && (actor === undefined || e.actor === actor));
        assert.ok(entry, `${action} ${target} ${result}: ${JSON.stringify(all.results.filter((e) => e.action === action))}`);
        assert.equal(entry.address, '127.0.0.1');
        return entry;
      };
      expect('login', 'alice', 'ok', 'alice');
      expect('login', 'alice', 'failed', 'alice');
      assert.deepEqual(expect('login', 'mark', 'failed', 'mark').details, { endpoint: 'token' });
      expect('login', 'mark', 'ok', 'mark');
      const created = expect('token.created', find(all, 'token.created', (e) => e.via !== 'cli')?.target ?? '', 'ok', 'alice');
      assert.deepEqual(created.details, { label: 'ci', scopes: ['repo:read'] });
      expect('token.revoked', created.target);
      expect('member.added', 'acme/mark', 'ok', 'olive');
      assert.deepEqual(expect('member.role_changed', 'acme/mark').details, { role: 'member' });
      expect('member.removed', 'acme/alice');
      assert.deepEqual(expect('team.permission_changed', 'acme/devs/app').details, { permission: 'write' });
      assert.deepEqual(expect('repository.created', 'acme/app').details, { is_private: true });
      expect('repository.deleted', 'acme/tmp');
      expect('tag.deleted', 'acme/app:old');
      assert.deepEqual(expect('plan.changed', 'acme', 'ok', 'boss').details, { plan: 'team' });
      expect('settings.changed', 'settings', 'ok', 'boss');
      assert.deepEqual(expect('admin.user.changed', 'mark', 'ok', 'boss').details, { fields: ['admin'] });
      expect('admin.user.deleted', 'gone', 'ok', 'boss');
      // no secret is ever kept: the passwords and the token sent are nowhere in the log
      const text = JSON.stringify(all);
      for (const secret of [PASSWORD, 'wrong password here', 'not his password']) assert.ok(!text.includes(secret), secret);
    });

    it('lets administrators read everything, owners their organisation, each account what concerns it', async () => {
      const ownerView = await read('/audit?page_size=100', 'olive');
      assert.ok(ownerView.results.every((e) => e.namespace === 'olive' || e.namespace === 'acme' || e.actor === 'olive'), 'olive sees her account and acme');
      assert.ok(find(ownerView, 'member.added', (e) => e.target === 'acme/mark'));
      assert.equal(find(ownerView, 'token.created'), undefined, 'not alice’s tokens');
      const own = await read('/audit?page_size=100', 'alice');
      assert.ok(own.results.length > 0 && own.results.every((e) => e.namespace === 'alice' || e.actor === 'alice'), JSON.stringify(own.results));
      assert.ok(find(own, 'token.created'));
      // the matrix: who may read an organisation's log
      const matrix: Array<[string | undefined, string, number]> = [
        ['boss', '/audit?namespace=acme', 200],
        ['olive', '/audit?namespace=acme', 200],
        ['mark', '/audit?namespace=acme', 403],
        ['alice', '/audit?namespace=acme', 403],
        ['alice', '/audit?namespace=alice', 200],
        ['alice', '/audit?namespace=olive', 403],
        [undefined, '/audit', 401],
      ];
      for (const [who, path, status] of matrix) {
        const res = await server.api(path, who ? { auth: as(who) } : {});
        assert.equal(res.status, status, `${who ?? 'anonymous'} ${path}`);
        await res.body?.cancel();
      }
    });

    it('filters by actor, action (or a prefix) and time', async () => {
      const members = await read('/audit?action=member.&page_size=100', 'boss');
      assert.deepEqual([...new Set(members.results.map((e) => e.action))].sort(), ['member.added', 'member.removed', 'member.role_changed']);
      const byBoss = await read('/audit?actor=boss&page_size=100', 'boss');
      assert.ok(byBoss.count > 0 && byBoss.results.every((e) => e.actor === 'boss'));
      const future = await read(`/audit?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`, 'boss');
      assert.equal(future.count, 0);
      const past = await read(`/audit?until=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}`, 'boss');
      assert.equal(past.count, 0);
      await expectProblem(await server.api('/audit?since=yesterday', { auth: as('boss') }), 400, /since: not a date/);
    });

    it('exports JSON lines with pier audit export', async () => {
      const env: Record<string, string> = server.databaseUrl ? { PIER_DATABASE_URL: server.databaseUrl } : {};
      const run = await runPier(['audit', 'export', '--data', server.dataDir, '--action', 'login'], { env });
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Entry);
      assert.equal(lines.length, 4);
      assert.ok(lines.every((e) => e.action === 'login' && e.address === '127.0.0.1'));
      assert.deepEqual(lines.map((e) => e.at), [...lines.map((e) => e.at)].sort(), 'oldest first');
      const bad = await runPier(['audit', 'export', '--data', server.dataDir, '--since', 'soon'], { env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--since: "soon" is not a date/);
    });

    it('has an entry for every state-changing route of the API', async () => {
      const document = await expectJson<{ paths: Record<string, Record<string, unknown>> }>(await server.api('/openapi.json'), 200);
      const missing: string[] = [];
      for (const [path, operations] of Object.entries(document.paths)) {
        for (const method of Object.keys(operations)) {
          if (!['post', 'put', 'patch', 'delete'].includes(method)) continue;
          const key = `${method.toUpperCase()} ${path.replace(/^\/api\/v1/, '')}`;
          if (!(key in AUDITED)) missing.push(key);
        }
      }
      assert.deepEqual(missing, []);
    });
  });
}
