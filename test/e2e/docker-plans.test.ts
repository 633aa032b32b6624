// Plans with the real docker CLI: a free account whose repositories are private by default pushes
// its first private repository; its second is refused before any layer is uploaded, with the plan
// named in what docker prints; `pier plan set alice pro` and the push works; a downgrade to free
// (through the API) makes the newer repository read-only: push refused with the reason, pull works.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();
const PASSWORD = 'alice-password-1';
const FREE_LIMIT = /denied: the free plan allows 1 private repository; alice has 1 — make one public or ask an administrator for the pro plan/;

describe('plans with docker', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  const refs = new Set<string>();

  /** A one-layer image of its own random bytes (so docker mounts nothing from another repository), tagged `ref`. */
  async function build(ref: string): Promise<void> {
    refs.add(`${registry}/${ref}`);
    await docker.buildImage({ 'data.bin': randomBytes(200_000) }, `${registry}/${ref}`);
  }

  const count = async (table: 'blobs' | 'uploads') =>
    Number((await server.database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: 'boss', password: 'boss-password-1', admin: true });
    await server.hub.accounts.create({ name: 'alice', password: PASSWORD });
    await server.hub.accounts.setDefaultPrivate('alice', true);
    await build('alice/first:v1');
    await build('alice/second:v1');
    await build('alice/second:v2');
    await docker.ok(['login', '--username', 'alice', '--password-stdin', registry], { input: PASSWORD });
  });

  after(async () => {
    await docker?.cleanup(refs);
    await server?.stop();
  });

  it('pushes the first private repository of a free account', async () => {
    await docker.ok(['push', `${registry}/alice/first:v1`]);
    assert.deepEqual(await server.hub.repositories.visibility('alice/first'), { exists: true, private: true });
  });

  it('refuses the second before any layer is uploaded, and docker prints the plan and how to raise it', async () => {
    const blobs = await count('blobs');
    const push = await docker.run(['push', `${registry}/alice/second:v1`]);
    assert.notEqual(push.code, 0, push.stdout);
    assert.match(push.stdout + push.stderr, FREE_LIMIT);
    assert.equal(await count('blobs'), blobs, 'no blob was stored');
    assert.equal(await count('uploads'), 0, 'no upload session was opened');
    assert.deepEqual(await server.database.db.selectFrom('blob_links').select('digest').where('repository', '=', 'alice/second').execute(), []);
    assert.equal((await server.hub.repositories.visibility('alice/second')).exists, false);
  });

  it('pushes it after `pier plan set alice pro`', async () => {
    const run = await runPier(['plan', 'set', 'alice', 'pro', '--data', server.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /alice now has the pro plan/);
    await docker.ok(['push', `${registry}/alice/second:v1`]);
    assert.deepEqual(await server.hub.repositories.visibility('alice/second'), { exists: true, private: true });
  });

  it('after a downgrade to free, keeps the newer one read-only: push refused with the reason, pull works', async () => {
    const res = await fetch(`${server.url}/api/v1/namespaces/alice/plan`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from('boss:boss-password-1').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ plan: 'free' }),
    });
    assert.equal(res.status, 200, await res.text());

    const push = await docker.run(['push', `${registry}/alice/second:v2`]);
    assert.notEqual(push.code, 0, push.stdout);
    assert.match(push.stdout + push.stderr, /denied: alice\/second is read-only: the free plan allows 1 private repository; alice has 2 — make one public or ask an administrator for the pro plan/);

    await docker.ok(['rmi', `${registry}/alice/second:v1`]);
    await docker.ok(['pull', `${registry}/alice/second:v1`]);
    // the oldest stays writable
    await docker.ok(['tag', `${registry}/alice/second:v2`, `${registry}/alice/first:v2`]);
    refs.add(`${registry}/alice/first:v2`);
    await docker.ok(['push', `${registry}/alice/first:v2`]);
  });
});
