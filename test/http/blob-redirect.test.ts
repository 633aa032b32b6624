// Blobs on S3 through /v2: with redirect=true a blob GET answers 307 to a presigned URL (HEAD
// does not), real clients (fetch, skopeo, docker) follow it and get the right bytes; without it
// Pier streams from S3 itself; a chunked upload continues in a restarted server (the hash is
// rebuilt from the stored segments). Needs S3 (scripts/start-swift.sh); skopeo and docker are
// optional, skipped without them unless CI=true.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { makeImage, pushImage } from '../support/images.js';
import { assertOciError, bin, bodyOf, pushBlob, randomBlob, rawRequest, sha256, startUpload, uniqueName, withQuery } from '../support/oci.js';
import { s3TestStorageUrl, skipUnlessS3 } from '../support/s3.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { SkopeoClient, findSkopeo } from '../support/skopeo.js';

const skip = await skipUnlessS3();
const skopeoFound = await findSkopeo();
const daemon = await findDockerDaemon();
const MiB = 1024 * 1024;

describe('blob GETs redirected to S3', { ...skip, timeout: 10 * 60_000 }, () => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let repo: string;
  let blob: { digest: string; bytes: Buffer };
  /** `GET <path> <status>` of every blob GET the server answered */
  const blobGets: string[] = [];
  const blobUrl = (name: string, digest: string) => `${server.url}/v2/${name}/blobs/${digest}`;
  /** what the server answered to blob GETs of `repository` */
  const answered = (repository: string) =>
    blobGets.filter((line) => line.includes(`/v2/${repository}/blobs/sha256:`)).map((line) => line.split(' ').at(-1));

  before(async () => {
    const storage = await s3TestStorageUrl({ redirect: 'true', presignTtl: '10m' });
    cleanup = storage.cleanup;
    server = await startTestServer({ 'storage.url': storage.url });
    server.app.server.on('request', (req, res) => {
      if (req.method === 'GET' && req.url?.includes('/blobs/sha256:')) res.on('finish', () => blobGets.push(`GET ${req.url} ${res.statusCode}`));
    });
    repo = `alice/${uniqueName()}`;
    blob = await pushBlob(server.url, repo, randomBlob(6 * MiB + 11));
  });
  after(async () => {
    await server?.stop();
    await cleanup?.();
  });

  it('answers GET with 307 to a presigned URL of the object, keeping Docker-Content-Digest', async () => {
    const res = await fetch(blobUrl(repo, blob.digest), { redirect: 'manual' });
    await res.arrayBuffer();
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('docker-content-digest'), blob.digest);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(location.host, '127.0.0.1:8080');
    assert.match(location.pathname, new RegExp(`/blobs/sha256/${blob.digest.slice(7, 9)}/${blob.digest.slice(7)}$`));
    assert.equal(location.searchParams.get('X-Amz-Expires'), '600');
  });

  it('serves the bytes to a client that follows the redirect, whole and by range', async () => {
    const whole = await fetch(blobUrl(repo, blob.digest));
    assert.equal(whole.status, 200);
    assert.equal(sha256(await bodyOf(whole)), blob.digest);
    const ranged = await fetch(blobUrl(repo, blob.digest), { headers: { range: `bytes=${5 * MiB}-${5 * MiB + 99}` } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(await bodyOf(ranged), blob.bytes.subarray(5 * MiB, 5 * MiB + 100));
  });

  it('answers HEAD itself', async () => {
    const head = await rawRequest(server.url, { method: 'HEAD', path: `/v2/${repo}/blobs/${blob.digest}` });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(blob.bytes.length));
    assert.equal(head.headers.location, undefined);
  });

  it('redirects nothing the repository does not hold', async () => {
    const other = await fetch(blobUrl(`bob/${uniqueName()}`, blob.digest), { redirect: 'manual' });
    await assertOciError(other, 404, 'BLOB_UNKNOWN');
    const unknown = await fetch(blobUrl(repo, sha256('never pushed')), { redirect: 'manual' });
    await assertOciError(unknown, 404, 'BLOB_UNKNOWN');
    const badRange = await fetch(blobUrl(repo, blob.digest), { redirect: 'manual', headers: { range: 'bytes=99999999-' } });
    await badRange.arrayBuffer();
    assert.equal(badRange.status, 416, 'an unsatisfiable range is answered here');
  });

  it('lets skopeo copy an image whose blobs come from S3', skipUnless(skopeoFound), async () => {
    const skopeo = await SkopeoClient.create(requireTool(skopeoFound));
    const layout = await mkdtemp(join(tmpdir(), 'pier-redirect-skopeo-'));
    try {
      const image = makeImage({ layers: 2, layerBytes: 3 * MiB });
      await pushImage(server.url, 'redirect/skopeo', 'v1', { image });
      const registry = new URL(server.url).host;
      await skopeo.ok(['copy', '--src-tls-verify=false', `docker://${registry}/redirect/skopeo:v1`, `oci:${layout}:v1`]);
      for (const b of [image.config, ...image.layers]) {
        const stored = await readFile(join(layout, 'blobs', 'sha256', b.digest.slice('sha256:'.length)));
        assert.equal(sha256(stored), b.digest);
      }
      assert.deepEqual(answered('redirect/skopeo'), ['307', '307', '307'], 'skopeo fetched every blob from S3');
    } finally {
      await skopeo.cleanup();
      await rm(layout, { recursive: true, force: true });
    }
  });

  it('lets docker pull an image whose blobs come from S3', skipUnless(daemon), async () => {
    const docker = await DockerClient.create(requireTool(daemon));
    const ref = `${new URL(server.url).host}/redirect/docker:v1`;
    try {
      const image = makeImage({ layers: 2, layerBytes: 2 * MiB });
      await pushImage(server.url, 'redirect/docker', 'v1', { image });
      await docker.ok(['pull', ref]);
      const inspected = await docker.inspectImage(ref);
      assert.equal(inspected.Id, image.config.digest, 'the image id is the digest of the config it got');
      assert.equal(inspected.RootFS.Layers.length, 2);
      assert.deepEqual(answered('redirect/docker'), ['307', '307', '307'], 'docker fetched every blob from S3');
    } finally {
      await docker.cleanup([ref]);
    }
  });
});

describe('blobs on S3 without redirect', { ...skip, timeout: 5 * 60_000 }, () => {
  let dataDir: string;
  let storage: { url: string; cleanup(): Promise<void> };
  before(async () => {
    storage = await s3TestStorageUrl();
    dataDir = await mkdtemp(join(tmpdir(), 'pier-s3-http-'));
  });
  after(async () => {
    await storage?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('streams blobs from S3 itself', async () => {
    const server = await startTestServer({ 'storage.url': storage.url }, { dataDir });
    try {
      const repo = `alice/${uniqueName()}`;
      const blob = await pushBlob(server.url, repo, randomBlob(MiB + 5));
      const res = await fetch(`${server.url}/v2/${repo}/blobs/${blob.digest}`, { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.deepEqual(await bodyOf(res), blob.bytes);
    } finally {
      await server.stop();
    }
  });

  it('continues a chunked upload in a restarted server, rebuilding the hash from S3', async () => {
    const repo = `alice/${uniqueName()}`;
    const content = randomBlob(7 * MiB + 3);
    const chunks = [content.subarray(0, 3 * MiB), content.subarray(3 * MiB, 6 * MiB), content.subarray(6 * MiB)];
    const patch = async (url: string, start: number, chunk: Buffer) => {
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + chunk.length - 1}` },
        body: bin(chunk),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 202, `PATCH at ${start}`);
      return new URL(res.headers.get('location')!, url).toString();
    };
    let first = await startTestServer({ 'storage.url': storage.url }, { dataDir });
    let url: string;
    try {
      url = (await startUpload(first.url, repo)).url;
      url = await patch(url, 0, chunks[0]!);
    } finally {
      await first.stop();
    }
    // a new process knows the session (the database) but not its hash: it rereads the segments
    first = await startTestServer({ 'storage.url': storage.url }, { dataDir });
    try {
      url = new URL(new URL(url).pathname + new URL(url).search, first.url).toString();
      url = await patch(url, 3 * MiB, chunks[1]!);
      const put = await fetch(withQuery(url, `digest=${sha256(content)}`), {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: bin(chunks[2]!),
      });
      await put.arrayBuffer();
      assert.equal(put.status, 201);
      const res = await fetch(`${first.url}/v2/${repo}/blobs/${sha256(content)}`);
      assert.equal(sha256(await bodyOf(res)), sha256(content));
    } finally {
      await first.stop();
    }
  });
});
