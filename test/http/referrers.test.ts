import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MT,
  assertOciError,
  descriptorOf,
  jsonBytes,
  ociIndex,
  ociManifest,
  pushBlob,
  pushManifest,
  randomBlob,
  sha256,
  type Descriptor,
} from '../support/oci.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

const SIGNATURE = 'application/vnd.example.signature.v1+json';
const SBOM = 'application/spdx+json';

describe('referrers', () => {
  let server: TestServer;
  const repo = 'alice/app';
  let subject: PushedImage;
  let emptyConfig: Descriptor;
  let signature: { digest: string; size: number };
  let sbom: { digest: string; size: number };
  let configTyped: PushedImage;
  let indexReferrer: { digest: string; size: number };

  /** An artifact manifest (empty config) pointing at `to`. */
  async function pushArtifact(
    name: string,
    to: Descriptor,
    artifactType: string,
    annotations?: Record<string, string>,
  ): Promise<{ digest: string; size: number; bytes: Buffer }> {
    const layer = await pushBlob(server.url, name, randomBlob(32));
    const body = ociManifest({
      artifactType,
      config: emptyConfig,
      layers: [descriptorOf('application/octet-stream', layer.bytes)],
      subject: to,
      annotations,
    });
    return pushManifest(server.url, name, sha256(jsonBytes(body)), body);
  }

  before(async () => {
    server = await startTestServer();
    subject = await pushImage(server.url, repo, 'latest');
    const empty = await pushBlob(server.url, repo, Buffer.from('{}'));
    emptyConfig = descriptorOf(MT.OciEmpty, empty.bytes);
    const to = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
    signature = await pushArtifact(repo, to, SIGNATURE, { 'org.example.signer': 'alice' });
    sbom = await pushArtifact(repo, to, SBOM, { 'org.opencontainers.image.created': '2024-05-01T00:00:00Z' });
    // an image manifest without artifactType: its config media type stands in
    configTyped = await pushImage(server.url, repo, 'config-typed', { subject: to, configMediaType: 'application/vnd.example.config.v1+json' });
    // an index can refer too
    const child = await pushImage(server.url, repo, 'child');
    const index = ociIndex([child.descriptor], { subject: to, artifactType: 'application/vnd.example.bundle', annotations: { kind: 'bundle' } });
    indexReferrer = await pushManifest(server.url, repo, sha256(jsonBytes(index)), index);
    // unrelated: a manifest without subject, and a referrer of another subject
    await pushImage(server.url, repo, 'unrelated');
    const other = await pushImage(server.url, repo, 'other');
    await pushArtifact(repo, other.descriptor, SIGNATURE);
  });
  after(() => server.stop());

  const referrersUrl = (digest: string, query = '', name = repo) => `${server.url}/v2/${name}/referrers/${digest}${query}`;

  async function getIndex(url: string): Promise<{ res: Response; index: ReferrersIndex }> {
    const res = await fetch(url);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(res.headers.get('content-type'), MT.OciIndex);
    const index = JSON.parse(text) as ReferrersIndex;
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MT.OciIndex);
    assert.ok(Array.isArray(index.manifests));
    return { res, index };
  }

  it('lists the manifests whose subject is the digest, as an OCI index with artifactType and annotations', async () => {
    const { res, index } = await getIndex(referrersUrl(subject.digest));
    assert.equal(res.headers.get('oci-filters-applied'), null);
    const byDigest = new Map(index.manifests.map((m) => [m.digest, m]));
    assert.equal(index.manifests.length, 4, JSON.stringify(index));
    assert.deepEqual(byDigest.get(signature.digest), {
      mediaType: MT.OciManifest,
      digest: signature.digest,
      size: signature.size,
      artifactType: SIGNATURE,
      annotations: { 'org.example.signer': 'alice' },
    });
    assert.deepEqual(byDigest.get(sbom.digest), {
      mediaType: MT.OciManifest,
      digest: sbom.digest,
      size: sbom.size,
      artifactType: SBOM,
      annotations: { 'org.opencontainers.image.created': '2024-05-01T00:00:00Z' },
    });
    assert.deepEqual(byDigest.get(configTyped.digest), {
      mediaType: MT.OciManifest,
      digest: configTyped.digest,
      size: configTyped.size,
      artifactType: 'application/vnd.example.config.v1+json',
    });
    assert.deepEqual(byDigest.get(indexReferrer.digest), {
      mediaType: MT.OciIndex,
      digest: indexReferrer.digest,
      size: indexReferrer.size,
      artifactType: 'application/vnd.example.bundle',
      annotations: { kind: 'bundle' },
    });
  });

  it('lists the same whether or not the client asks for the index type', async () => {
    const res = await fetch(referrersUrl(subject.digest), { headers: { accept: MT.OciIndex } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), MT.OciIndex);
    assert.equal(((await res.json()) as ReferrersIndex).manifests.length, 4);
  });

  it('filters by ?artifactType= and says so in OCI-Filters-Applied', async () => {
    const { res, index } = await getIndex(referrersUrl(subject.digest, `?artifactType=${encodeURIComponent(SIGNATURE)}`));
    assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [signature.digest],
    );
    assert.equal(index.manifests[0]!.artifactType, SIGNATURE);

    const bySbom = await getIndex(referrersUrl(subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`));
    assert.deepEqual(
      bySbom.index.manifests.map((m) => m.digest),
      [sbom.digest],
    );
    const byConfig = await getIndex(referrersUrl(subject.digest, `?artifactType=${encodeURIComponent('application/vnd.example.config.v1+json')}`));
    assert.deepEqual(
      byConfig.index.manifests.map((m) => m.digest),
      [configTyped.digest],
    );
  });

  it('answers a filter that matches nothing with an empty index, still naming the filter', async () => {
    const { res, index } = await getIndex(referrersUrl(subject.digest, '?artifactType=application/vnd.example.none'));
    assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(index.manifests, []);
  });

  it('answers an unknown subject with 200 and no manifests', async () => {
    const { index } = await getIndex(referrersUrl(sha256(randomBlob(10))));
    assert.deepEqual(index.manifests, []);
  });

  it('answers a subject without referrers with 200 and no manifests', async () => {
    const { index } = await getIndex(referrersUrl(configTyped.digest));
    assert.deepEqual(index.manifests, []);
  });

  it('answers an unknown repository with 200 and no manifests, never 404', async () => {
    const { index } = await getIndex(referrersUrl(subject.digest, '', 'nobody/nothing'));
    assert.deepEqual(index.manifests, []);
  });

  it('keeps referrers per repository', async () => {
    const elsewhere = 'bob/app';
    await pushBlob(server.url, elsewhere, randomBlob(5));
    const { index } = await getIndex(referrersUrl(subject.digest, '', elsewhere));
    assert.deepEqual(index.manifests, []);
  });

  it('lists referrers pushed before their subject', async () => {
    const name = 'alice/early';
    const empty = await pushBlob(server.url, name, Buffer.from('{}'));
    const future = { mediaType: MT.OciManifest, digest: sha256(randomBlob(20)), size: 20 };
    const body = ociManifest({ artifactType: SIGNATURE, config: descriptorOf(MT.OciEmpty, empty.bytes), subject: future });
    const pushed = await pushManifest(server.url, name, sha256(jsonBytes(body)), body);
    const { index } = await getIndex(referrersUrl(future.digest, '', name));
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [pushed.digest],
    );
  });

  it('drops a referrer once it is deleted', async () => {
    const name = 'alice/deleted';
    const base = await pushImage(server.url, name, 'latest');
    const empty = await pushBlob(server.url, name, Buffer.from('{}'));
    const body = ociManifest({ artifactType: SIGNATURE, config: descriptorOf(MT.OciEmpty, empty.bytes), subject: base.descriptor });
    const pushed = await pushManifest(server.url, name, sha256(jsonBytes(body)), body);
    assert.equal((await getIndex(referrersUrl(base.digest, '', name))).index.manifests.length, 1);
    const del = await fetch(`${server.url}/v2/${name}/manifests/${pushed.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.deepEqual((await getIndex(referrersUrl(base.digest, '', name))).index.manifests, []);
  });

  it('resolves a one-part name under library/', async () => {
    const base = await pushImage(server.url, 'hello', 'latest');
    const empty = await pushBlob(server.url, 'hello', Buffer.from('{}'));
    const body = ociManifest({ artifactType: SBOM, config: descriptorOf(MT.OciEmpty, empty.bytes), subject: base.descriptor });
    const pushed = await pushManifest(server.url, 'library/hello', sha256(jsonBytes(body)), body);
    const { index } = await getIndex(referrersUrl(base.digest, '', 'hello'));
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [pushed.digest],
    );
  });

  it('refuses a malformed digest with 400 DIGEST_INVALID', async () => {
    for (const digest of ['sha256:abc', 'latest', 'sha256:' + 'Q'.repeat(64), 'md5:' + 'a'.repeat(32)]) {
      await assertOciError(await fetch(referrersUrl(digest)), 400, 'DIGEST_INVALID');
    }
  });
});
