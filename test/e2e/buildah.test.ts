// buildah (Debian's) against an in-process Pier, open and with token auth: an image built FROM
// scratch with `buildah add` and `buildah commit`, pushed as OCI and as Docker schema 2, pulled
// back identical; `buildah login` for an account's own namespace. buildah keeps its images in a
// private vfs store and runs no container. Without buildah the suite is skipped, except under
// CI=true where it fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tokenFor } from '../support/auth.js';
import { ContainersClient, findBuildah } from '../support/containers.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { DOCKER_MANIFEST, fetchManifest, OCI_MANIFEST } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const found = await findBuildah();
const DENIED = /denied|unauthorized|authentication required|insufficient_scope/i;

describe('buildah against Pier', { ...skipUnless(found), timeout: 15 * 60_000 }, () => {
  let buildah: ContainersClient;

  before(async () => {
    buildah = await ContainersClient.create('buildah', requireTool(found));
  });
  after(() => buildah?.cleanup());

  /** `buildah from scratch`, `buildah add` of one file, `buildah commit` as `name`: its image ID. */
  async function build(name: string, data: Buffer): Promise<string> {
    const container = (await buildah.ok(['from', '--signature-policy', buildah.policy, 'scratch'])).stdout.trim();
    const file = join(buildah.dir, 'tmp', `data-${randomBytes(4).toString('hex')}.bin`);
    await writeFile(file, data);
    await buildah.ok(['add', container, file, '/data.bin']);
    await buildah.ok(['config', '--cmd', '/data.bin', container]);
    const committed = await buildah.ok(['commit', '--signature-policy', buildah.policy, '--rm', container, name]);
    return committed.stdout.trim().split('\n').pop()!;
  }

  const push = (image: string, destination: string, ...flags: string[]) =>
    buildah.ok(['push', '--signature-policy', buildah.policy, '--tls-verify=false', ...flags, image, `docker://${destination}`]);
  const pull = (reference: string) => buildah.ok(['pull', '--signature-policy', buildah.policy, '--tls-verify=false', `docker://${reference}`]);
  const imageId = async (reference: string) => (await buildah.ok(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', reference])).stdout.trim();

  /** the bytes of /data.bin in a local image, read through a working container's root */
  async function dataIn(image: string): Promise<Buffer> {
    const container = (await buildah.ok(['from', '--signature-policy', buildah.policy, '--pull-never', image])).stdout.trim();
    try {
      const root = (await buildah.ok(['mount', container])).stdout.trim();
      return await readFile(join(root, 'data.bin'));
    } finally {
      await buildah.run(['rm', container]);
    }
  }

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

    it('pushes an image it built, as OCI and as Docker schema 2, and pulls both back identical', async () => {
      const data = randomBytes(200_000);
      const id = await build('localhost/pier-buildah-test:v1', data);

      await push('localhost/pier-buildah-test:v1', `${registry}/test/buildah:oci`);
      const oci = await fetchManifest(server.url, 'test/buildah', 'oci');
      assert.equal(oci.status, 200);
      assert.equal(oci.mediaType, OCI_MANIFEST);
      assert.equal((JSON.parse(oci.body.toString()) as { config: { digest: string } }).config.digest, `sha256:${id}`, 'the config buildah committed');
      await assertBlobs(server, 'test/buildah', oci.body);

      await push('localhost/pier-buildah-test:v1', `${registry}/test/buildah:docker`, '--format', 'v2s2');
      const docker = await fetchManifest(server.url, 'test/buildah', 'docker');
      assert.equal(docker.mediaType, DOCKER_MANIFEST);
      await assertBlobs(server, 'test/buildah', docker.body);

      await buildah.ok(['rmi', '--all', '--force']);
      await pull(`${registry}/test/buildah:oci`);
      assert.equal(await imageId(`${registry}/test/buildah:oci`), id, 'the same image');
      assert.deepEqual(await dataIn(`${registry}/test/buildah:oci`), data);
      await pull(`${registry}/test/buildah:docker`);
      assert.deepEqual(await dataIn(`${registry}/test/buildah:docker`), data);
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
      buildah.run(['login', '--tls-verify=false', '--username', user, '--password-stdin', registry], { input: password });

    it('needs a login to push, logs in, pushes to its own namespace and pulls back', async () => {
      const data = randomBytes(100_000);
      const id = await build('localhost/pier-buildah-auth:v1', data);
      const anonymous = await buildah.run(['push', '--signature-policy', buildah.policy, '--tls-verify=false', 'localhost/pier-buildah-auth:v1', `docker://${registry}/alice/app:v1`]);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, DENIED);

      const wrong = await login('alice', 'not-her-password');
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /invalid username\/password/);
      const loggedIn = await login('alice', 'alice-password-1');
      assert.equal(loggedIn.code, 0, loggedIn.stderr);
      assert.match(loggedIn.stdout, /Login Succeeded/);

      await push('localhost/pier-buildah-auth:v1', `${registry}/alice/app:v1`);
      const denied = await buildah.run(['push', '--signature-policy', buildah.policy, '--tls-verify=false', 'localhost/pier-buildah-auth:v1', `docker://${registry}/bob/app:v1`]);
      assert.notEqual(denied.code, 0, 'alice cannot push into bob’s namespace');
      assert.match(denied.stderr, DENIED);
      assert.equal((await server.hub.repositories.visibility('bob/app')).exists, false);

      const token = await tokenFor(server.url, { username: 'alice', secret: 'alice-password-1' }, ['repository:alice/app:pull']);
      const stored = await fetch(`${server.url}/v2/alice/app/manifests/v1`, { headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST } });
      assert.equal(stored.status, 200);
      await assertBlobs(server, 'alice/app', Buffer.from(await stored.arrayBuffer()), { authorization: `Bearer ${token}` });

      await buildah.ok(['rmi', '--all', '--force']);
      await pull(`${registry}/alice/app:v1`);
      assert.equal(await imageId(`${registry}/alice/app:v1`), id);
      assert.deepEqual(await dataIn(`${registry}/alice/app:v1`), data);
      await buildah.ok(['logout', registry]);
    });
  });
});
