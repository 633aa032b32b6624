/**
 * Proxy namespaces in token mode: a second Pier in token mode as the upstream (Pier speaks its token
 * auth with the proxy's sealed credentials), the proxy's visibility on pulls through it, Pier's own
 * pull limits, the administration API and CLI, and names that a proxy and an account cannot share.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { tokenFor, type Login } from '../support/auth.js';
import { runPier } from '../support/cli.js';
import { ACCEPT_ALL, pushImage } from '../support/images.js';
import { assertOciError, sha256, uniqueName } from '../support/oci.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

const carol: Login = { username: 'carol', secret: 'carol upstream secret' };
const admin: [string, string] = ['captain', PASSWORD];

async function pull(base: string, repository: string, reference: string, login?: Login): Promise<Response> {
  const token = await tokenFor(base, login, [`repository:${repository}:pull`]);
  return fetch(`${base}/v2/${repository}/manifests/${reference}`, { headers: { accept: ACCEPT_ALL, authorization: `Bearer ${token}` } });
}

for (const { backend, options } of await testBackends()) {
  describe(`proxy namespaces in token mode (${backend})`, options, () => {
    let upstream: TestServer;
    let server: ApiServer;
    let secret: Awaited<ReturnType<typeof pushImage>>;
    let open: Awaited<ReturnType<typeof pushImage>>;

    before(async () => {
      upstream = await startTestServer({ 'auth.mode': 'token' }, { backend });
      await upstream.hub.accounts.create({ name: carol.username, password: carol.secret });
      await upstream.hub.repositories.create('carol/secret', true);
      const push = await tokenFor(upstream.url, carol, ['repository:carol/secret:pull,push', 'repository:carol/open:pull,push']);
      secret = await pushImage(upstream.url, 'carol/secret', 'v1', { token: push, layerBytes: 40_000 });
      open = await pushImage(upstream.url, 'carol/open', 'v1', { token: push });

      server = await startApiServer({}, { backend });
      await server.hub.accounts.create({ name: 'captain', password: PASSWORD, admin: true });
      await server.hub.accounts.create({ name: 'dave', password: PASSWORD });
    });

    after(async () => {
      await server?.stop();
      await upstream?.stop();
    });

    it('an administrator adds a proxy with credentials; the password is sealed and never shown', async () => {
      const res = await server.api('/proxies', {
        method: 'POST',
        auth: { basic: admin },
        json: { namespace: 'up', url: `${upstream.url}/`, username: carol.username, password: carol.secret, visibility: 'members', ttl_seconds: 300 },
      });
      const created = await expectJson(res, 201);
      assert.deepEqual(
        { ...created, created_at: undefined, updated_at: undefined },
        { namespace: 'up', url: upstream.url, username: 'carol', has_password: true, ttl_seconds: 300, visibility: 'members', cached_repositories: 0, created_at: undefined, updated_at: undefined },
      );
      const listed = await expectJson<{ count: number; results: unknown[] }>(await server.api('/proxies', { auth: { basic: admin } }), 200);
      assert.equal(listed.count, 1);
      assert.ok(!JSON.stringify(listed).includes(carol.secret));
      const row = await server.database.db.selectFrom('proxies').selectAll().where('namespace', '=', 'up').executeTakeFirstOrThrow();
      assert.ok(row.password_sealed && !row.password_sealed.includes(carol.secret) && row.password_sealed.startsWith('v1.'));
      // not for everyone
      await expectProblem(await server.api('/proxies', { auth: { basic: ['dave', PASSWORD] } }), 403, undefined, 'forbidden');
      await expectProblem(await server.api('/proxies'), 401, undefined, 'unauthorized');
    });

    it('pulls a private upstream repository with the proxy credentials, for signed-in members only', async () => {
      const repository = 'up/carol/secret';
      const anonymous = await pull(server.url, repository, 'v1');
      await assertOciError(anonymous, 401, 'DENIED');
      const res = await pull(server.url, repository, 'v1', { username: 'dave', secret: PASSWORD });
      assert.equal(res.status, 200, await res.clone().text());
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), secret.manifest);
      const token = await tokenFor(server.url, { username: 'dave', secret: PASSWORD }, [`repository:${repository}:pull`]);
      for (const blob of [secret.config, ...secret.layers]) {
        const blobRes = await fetch(`${server.url}/v2/${repository}/blobs/${blob.digest}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(blobRes.status, 200);
        assert.equal(sha256(Buffer.from(await blobRes.arrayBuffer())), blob.digest);
      }
      // a push token is not granted there, to nobody but administrators, and they are refused by the registry
      const push = await tokenFor(server.url, { username: 'dave', secret: PASSWORD }, [`repository:${repository}:pull,push`]);
      const upload = await fetch(`${server.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${push}` } });
      await assertOciError(upload, 401, 'DENIED');
      const rootPush = await tokenFor(server.url, { username: 'captain', secret: PASSWORD }, [`repository:${repository}:pull,push`]);
      const refused = await fetch(`${server.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${rootPush}` } });
      await assertOciError(refused, 403, 'DENIED', { message: /pull-through cache/ });
      // the catalog hides a members-only proxy from anonymous callers
      const anonymousCatalog = await fetch(`${server.url}/v2/_catalog`, { headers: { authorization: `Bearer ${await tokenFor(server.url, undefined, ['registry:catalog:*'])}` } });
      assert.ok(!((await anonymousCatalog.json()) as { repositories: string[] }).repositories.includes(repository));
    });

    it('a public proxy serves anonymous pulls, within Pier’s own pull limits', async () => {
      const patched = await expectJson(await server.api('/proxies/up', { method: 'PATCH', auth: { basic: admin }, json: { visibility: 'public' } }), 200);
      assert.equal(patched.visibility, 'public');
      await server.hub.settings.set('pullLimitExempt', []);
      await server.hub.settings.set('anonymousPullLimit', 2);
      try {
        const first = await pull(server.url, 'up/carol/open', 'v1');
        assert.equal(first.status, 200);
        assert.deepEqual(Buffer.from(await first.arrayBuffer()), open.manifest);
        assert.match(first.headers.get('ratelimit-remaining') ?? '', /^1;/);
        assert.equal((await pull(server.url, 'up/carol/open', 'v1')).status, 200);
        await assertOciError(await pull(server.url, 'up/carol/open', 'v1'), 429, 'TOOMANYREQUESTS');
      } finally {
        await server.hub.settings.set('anonymousPullLimit', 100);
        await server.hub.settings.set('pullLimitExempt', ['127.0.0.0/8', '::1/128']);
      }
    });

    it('says when the upstream refuses the proxy’s credentials', async () => {
      await expectJson(await server.api('/proxies/up', { method: 'PATCH', auth: { basic: admin }, json: { username: 'carol', password: 'not it' } }), 200);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const res = await pull(server.url, `up/carol/${uniqueName('nothere')}`, 'v1', { username: 'dave', secret: PASSWORD });
      await assertOciError(res, 404, 'MANIFEST_UNKNOWN', { message: /refused access .*check the proxy's credentials/ });
      await expectJson(await server.api('/proxies/up', { method: 'PATCH', auth: { basic: admin }, json: { username: carol.username, password: carol.secret } }), 200);
    });

    it('keeps names apart: a proxy takes no account’s name, no account takes a proxy’s', async () => {
      await expectProblem(await server.api('/users', { method: 'POST', json: { username: 'up', password: PASSWORD } }), 409, /taken/, 'conflict');
      const org = await server.api('/orgs', { method: 'POST', auth: { basic: ['dave', PASSWORD] }, json: { name: 'up' } });
      await expectProblem(org, 409, /taken/, 'conflict');
      await expectProblem(await server.api('/proxies', { method: 'POST', auth: { basic: admin }, json: { namespace: 'dave', url: upstream.url } }), 409, /account or organisation/, 'conflict');
      await expectProblem(await server.api('/proxies', { method: 'POST', auth: { basic: admin }, json: { namespace: 'library', url: upstream.url } }), 400, /official namespace/, 'validation');
      await expectProblem(await server.api('/proxies', { method: 'POST', auth: { basic: admin }, json: { namespace: 'x2', url: 'ftp://example.com' } }), 400, /http/, 'validation');
      await expectProblem(
        await server.api('/proxies', { method: 'POST', auth: { basic: admin }, json: { namespace: 'x2', url: upstream.url, password: 'alone' } }),
        400,
        /username/,
        'validation',
      );
      await expectProblem(await server.api('/proxies', { method: 'POST', auth: { basic: admin }, json: { namespace: 'up', url: upstream.url } }), 409, /already/, 'conflict');
    });

    it('removing a proxy removes what it cached', async () => {
      const before = await expectJson<{ cached_repositories: number }>(await server.api('/proxies/up', { auth: { basic: admin } }), 200);
      assert.ok(before.cached_repositories >= 2);
      const res = await server.api('/proxies/up', { method: 'DELETE', auth: { basic: admin } });
      assert.equal(res.status, 204);
      assert.deepEqual(await server.registry.listings.catalog({}).then((l) => l.items.filter((n) => n.startsWith('up/'))), []);
      await expectProblem(await server.api('/proxies/up', { auth: { basic: admin } }), 404, /no proxy namespace/, 'not-found');
    });

    it('pier proxy add, list and remove on the data directory, the password read from stdin', { skip: backend === 'postgres' ? 'the CLI works on a data directory (SQLite)' : undefined }, async () => {
      const data = server.dataDir;
      const env = {};
      const added = await runPier(['proxy', 'add', 'cli', upstream.url, '--username', 'carol', '--password-stdin', '--ttl', '2m', '--data', data], { input: `${carol.secret}\n`, env });
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /cli is now a pull-through cache of http:\/\/127\.0\.0\.1:\d+/);
      const listed = await runPier(['proxy', 'list', '--json', '--data', data], { env });
      assert.equal(listed.code, 0, listed.stderr);
      const rows = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(rows.map((r) => [r.namespace, r.username, r.ttl_seconds, r.visibility]), [['cli', 'carol', 120, 'public']]);
      // the running server sees it (within its refresh interval) and pulls through it with the sealed password
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const res = await pull(server.url, 'cli/carol/secret', 'v1', { username: 'dave', secret: PASSWORD });
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), secret.manifest);

      const bad = await runPier(['proxy', 'add', 'cli2', upstream.url, '--username', 'carol', '--data', data], { env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^pier: upstream credentials are --username NAME with --password-stdin/);
      assert.doesNotMatch(bad.stderr, /\n\s+at /);
      const taken = await runPier(['proxy', 'add', 'dave', upstream.url, '--data', data], { env });
      assert.equal(taken.code, 1);
      assert.equal(taken.stderr, 'pier: "dave" is an account or organisation: a proxy needs a namespace of its own\n');

      const removed = await runPier(['proxy', 'remove', 'cli', '--data', data], { env });
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /removed the proxy namespace cli and 1 cached repository/);
    });
  });
}
