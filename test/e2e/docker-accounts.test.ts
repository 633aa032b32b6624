// Accounts with the real docker CLI.
// - Organisations are no way around a plan: a free user's two organisations cannot get a second
//   private repository between them; docker prints whose allowance it is and how to raise it.
// - A deleted account pushes nothing with what it still holds: the account is deleted while docker
//   pushes, between its token request and its uploads (a proxy in front of Pier does it when the
//   first upload arrives), and the push fails without creating anything.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();
const PASSWORD = 'alice-password-1';

describe('docker with plans shared by organisations, and deleted accounts', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  let workDir: string;
  const refs = new Set<string>();

  /** A one-layer image of its own random bytes (so docker mounts nothing from another repository), tagged `ref`. */
  async function build(ref: string): Promise<void> {
    const dir = join(workDir, String(refs.size));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'data.bin'), randomBytes(150_000));
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY data.bin /data.bin\n');
    refs.add(ref);
    await docker.ok(['build', '--quiet', '--tag', ref, dir]);
  }

  const api = (path: string, method: string, user: string, password: string, body?: unknown) =>
    fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    workDir = await mkdtemp(join(tmpdir(), 'pier-docker-accounts-'));
    await server.hub.accounts.create({ name: 'boss', password: 'boss-password-1', admin: true });
    await server.hub.accounts.create({ name: 'alice', password: PASSWORD });
  });

  after(async () => {
    await docker?.cleanup(refs);
    await server?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("gives a free user's two organisations one private repository between them", async () => {
    for (const org of ['acme', 'globex']) {
      assert.equal((await api('/orgs', 'POST', 'alice', PASSWORD, { name: org })).status, 201);
      assert.equal((await api(`/orgs/${org}`, 'PATCH', 'alice', PASSWORD, { default_private: true })).status, 200);
    }
    await build(`${registry}/acme/one:v1`);
    await build(`${registry}/globex/two:v1`);
    await docker.ok(['login', '--username', 'alice', '--password-stdin', registry], { input: PASSWORD });

    await docker.ok(['push', `${registry}/acme/one:v1`]);
    assert.deepEqual(await server.hub.repositories.visibility('acme/one'), { exists: true, private: true });
    const push = await docker.run(['push', `${registry}/globex/two:v1`]);
    assert.notEqual(push.code, 0, push.stdout);
    assert.match(
      push.stdout + push.stderr,
      /denied: globex is billed to alice: the free plan allows 1 private repository; alice and the organisations billed to it have 1 — make one public or ask an administrator for the pro plan/,
    );
    assert.equal((await server.hub.repositories.visibility('globex/two')).exists, false);

    // an administrator grants globex a plan of its own: billed to itself, it pushes
    assert.equal((await api('/namespaces/globex/plan', 'PUT', 'boss', 'boss-password-1', { plan: 'pro' })).status, 200);
    await docker.ok(['push', `${registry}/globex/two:v1`]);
    assert.deepEqual(await server.hub.repositories.visibility('globex/two'), { exists: true, private: true });
    await docker.ok(['logout', registry]);
  });

  it('pushes nothing for an account deleted after docker got its token', async () => {
    await server.hub.accounts.create({ name: 'bob', password: 'bob-password-1' });
    // docker talks to Pier through this proxy; tokens come from Pier itself (the realm)
    let armed = false;
    let deletion: Promise<number> | undefined;
    const target = new URL(server.url);
    const proxy: Server = createServer((incoming, outgoing) => {
      const forward = () => {
        const upstream = request({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        });
        upstream.on('error', () => outgoing.destroy());
        incoming.pipe(upstream);
      };
      if (armed && incoming.method === 'POST' && incoming.url?.startsWith('/v2/bob/app/blobs/uploads/')) {
        armed = false;
        assert.match(incoming.headers.authorization ?? '', /^Bearer /, 'the upload carries the token docker fetched before');
        incoming.pause();
        deletion = api('/users/me', 'DELETE', 'bob', 'bob-password-1', { confirm: 'bob' }).then((res) => res.status);
        void deletion.then(forward, forward);
        return;
      }
      forward();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const through = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
      await build(`${through}/bob/app:v1`);
      await build(`${through}/bob/app:v2`);
      await docker.ok(['login', '--username', 'bob', '--password-stdin', through], { input: 'bob-password-1' });
      await docker.ok(['push', `${through}/bob/app:v1`]);
      assert.equal((await server.hub.repositories.visibility('bob/app')).exists, true);

      armed = true;
      const push = await docker.run(['push', `${through}/bob/app:v2`]);
      assert.equal(await deletion, 200, 'the account was deleted in the middle of the push');
      assert.notEqual(push.code, 0, push.stdout);
      assert.match(push.stdout + push.stderr, /unauthorized|no longer exists/);
      const db = server.database.db;
      assert.deepEqual(await db.selectFrom('repositories').select('name').where('name', 'like', 'bob/%').execute(), []);
      assert.deepEqual(await db.selectFrom('hub_repositories').select('name').where('namespace', '=', 'bob').execute(), []);
      assert.deepEqual(await db.selectFrom('uploads').select('id').where('repository', 'like', 'bob/%').execute(), []);
      // and docker cannot get another token
      const again = await docker.run(['push', `${through}/bob/app:v2`]);
      assert.notEqual(again.code, 0);
      assert.equal((await server.hub.repositories.visibility('bob/app')).exists, false);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
