// Garbage collection with the real docker CLI (issue 11): docker pushes an image, its manifest is
// deleted, `pier gc` runs beside the server and its layers' bytes are gone from the disk; docker
// pushes it again (it finds the layers missing and uploads them) and pulls it back.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

describe('garbage collection with docker', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  let ref: string;

  before(async () => {
    server = await startTestServer();
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    ref = `${registry}/gc/app:v1`;
    await docker.buildImage({ 'data.bin': randomBytes(300_000) }, ref);
  });

  after(async () => {
    await docker?.cleanup([ref]);
    await server?.stop();
  });

  const onDisk = (digest: string) => existsSync(join(server.dataDir, 'storage', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)));
  const blobDigests = async () => (await server.database.db.selectFrom('blobs').select('digest').execute()).map((r) => r.digest).sort();

  it('push, delete, gc: the bytes are gone; push again works and pulls', async () => {
    await docker.ok(['push', ref]);
    const blobs = await blobDigests();
    assert.ok(blobs.length >= 2, `config and layers: ${blobs.join(', ')}`);
    for (const digest of blobs) assert.equal(onDisk(digest), true);

    const head = await fetch(`${server.url}/v2/gc/app/manifests/v1`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' } });
    const digest = head.headers.get('docker-content-digest')!;
    assert.equal((await fetch(`${server.url}/v2/gc/app/manifests/${digest}`, { method: 'DELETE' })).status, 202);

    const gc = await runPier(['gc', '--grace', '0s', '--data', server.dataDir]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, new RegExp(`^deleted ${blobs.length} blobs \\(`));
    for (const blob of blobs) assert.equal(onDisk(blob), false, `${blob} is gone from the disk`);
    assert.deepEqual(await blobDigests(), []);

    await docker.ok(['push', ref]);
    assert.deepEqual(await blobDigests(), blobs, 'pushed again, whole');
    for (const blob of blobs) assert.equal(onDisk(blob), true);
    await docker.ok(['rmi', ref]);
    await docker.ok(['pull', ref]);
  });
});
