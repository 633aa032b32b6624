// podman (Debian's, as root, no daemon, no container run) against an in-process Pier, open and
// with token auth: pulls an image pushed over HTTP, pushes it under another name, and pulls that
// back identical; `podman login` for an account's own namespace. podman keeps its images in a
// private vfs store. Without podman the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tokenFor } from '../support/auth.js';
import { ContainersClient, findPodman } from '../support/containers.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { fetchManifest, pushImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const found = await findPodman();
const DENIED = /denied|unauthorized|authentication required|insufficient_scope/i;

describe('podman against Pier', { ...skipUnless(found), timeout: 15 * 60_000 }, () => {
  let podman: ContainersClient;

  before(async () => {
    podman = await ContainersClient.create('podman', requireTool(found));
  });
  after(() => podman?.cleanup());

  const pull = (reference: string) => podman.ok(['pull', '--signature-policy', podman.policy, '--tls-verify=false', reference]);
  const push = (reference: string) => podman.run(['push', '--signature-policy', podman.policy, '--tls-verify=false', reference]);
  const imageId = async (reference: string) => (await podman.ok(['image', 'inspect', '--format', '{{.Id}}', reference])).stdout.trim();

  /** every blob of a manifest that Pier stored answers HEAD */
  async function assertBlobs(server: TestServer, repository: string, manifest: Buffer, headers: Record<string, string> = {}): Promise<void> {
    const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const { digest } of [parsed.config, ...parsed.layers]) {
      const res = await fetch(`${server.url}/v2/${repository}/blobs/${digest}`, { method: 'HEAD', headers });
      assert.equal(res.status, 200, `${repository} holds ${digest}`);
    }
  }

  describe('open', () => {
    let server: TestServer;
    let registry: string;
    before(async () => {
      server = await startTestServer();
      registry = new URL(server.url).host;
    });
    after(() => server?.stop());

    it('pulls an image, pushes it under another name, and pulls that back identical', async () => {
      const image = await pushImage(server.url, 'test/source', 'v1', { layers: 2, layerBytes: 50_000 });
      await pull(`${registry}/test/source:v1`);
      assert.equal(`sha256:${await imageId(`${registry}/test/source:v1`)}`, image.config.digest, 'the image ID is the digest of its config');

      await podman.ok(['tag', `${registry}/test/source:v1`, `${registry}/test/podman:v1`]);
      const pushed = await push(`${registry}/test/podman:v1`);
      assert.equal(pushed.code, 0, pushed.stderr);
      const stored = await fetchManifest(server.url, 'test/podman', 'v1');
      assert.equal(stored.status, 200);
      assert.equal((JSON.parse(stored.body.toString()) as { config: { digest: string } }).config.digest, image.config.digest);
      await assertBlobs(server, 'test/podman', stored.body);

      await podman.ok(['rmi', '--all', '--force']);
      await pull(`${registry}/test/podman:v1`);
      assert.equal(`sha256:${await imageId(`${registry}/test/podman:v1`)}`, image.config.digest);
    });
  });

  describe('with token auth', () => {
    let server: TestServer;
    let registry: string;
    before(async () => {
      server = await startTestServer({ 'auth.mode': 'token' });
      registry = new URL(server.url).host;
      await server.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
      await server.hub.accounts.create({ name: 'bob', password: 'bob-password-1' });
    });
    after(() => server?.stop());

    const login = (user: string, password: string) =>
      podman.run(['login', '--tls-verify=false', '--username', user, '--password-stdin', registry], { input: password });

    it('needs a login to push, logs in, pushes to its own namespace and pulls back', async () => {
      const token = await tokenFor(server.url, { username: 'alice', secret: 'alice-password-1' }, ['repository:alice/source:push,pull', 'repository:alice/app:pull']);
      const image = await pushImage(server.url, 'alice/source', 'v1', { token });
      const anonymousPull = await podman.run(['pull', '--signature-policy', podman.policy, '--tls-verify=false', `${registry}/alice/source:v1`]);
      assert.equal(anonymousPull.code, 0, `a public repository pulls without a login: ${anonymousPull.stderr}`);
      await podman.ok(['tag', `${registry}/alice/source:v1`, `${registry}/alice/app:v1`, `${registry}/bob/app:v1`]);
      const anonymous = await push(`${registry}/alice/app:v1`);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, DENIED);

      const wrong = await login('alice', 'not-her-password');
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /invalid username\/password/);
      const loggedIn = await login('alice', 'alice-password-1');
      assert.equal(loggedIn.code, 0, loggedIn.stderr);
      assert.match(loggedIn.stdout, /Login Succeeded/);

      const pushed = await push(`${registry}/alice/app:v1`);
      assert.equal(pushed.code, 0, pushed.stderr);
      const denied = await push(`${registry}/bob/app:v1`);
      assert.notEqual(denied.code, 0, 'alice cannot push into bob’s namespace');
      assert.match(denied.stderr, DENIED);
      assert.equal((await server.hub.repositories.visibility('bob/app')).exists, false);

      const stored = await fetch(`${server.url}/v2/alice/app/manifests/v1`, { headers: { authorization: `Bearer ${token}`, accept: image.mediaType } });
      assert.equal(stored.status, 200);
      await assertBlobs(server, 'alice/app', Buffer.from(await stored.arrayBuffer()), { authorization: `Bearer ${token}` });

      await podman.ok(['rmi', '--all', '--force']);
      await pull(`${registry}/alice/app:v1`);
      assert.equal(`sha256:${await imageId(`${registry}/alice/app:v1`)}`, image.config.digest);
      await podman.ok(['logout', registry]);
    });
  });
});
