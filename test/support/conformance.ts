/**
 * The four workflows of the OCI conformance suite (v1.1.1: pull, push, content discovery,
 * content management), replayed request by request in the suite's order against one repository,
 * with its exact status and header assertions. The suite itself is Go and cannot be fetched here.
 *
 * The workflows only speak through `call`, so the same requests and assertions run against an
 * open Pier (test/http/conformance.test.ts) and, through a client that answers bearer challenges
 * as the suite's client does, against Pier in token mode (test/http/conformance-auth.test.ts).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

export interface CallInit {
  body?: Buffer;
  headers?: Record<string, string>;
}

/** One request to the registry, `path` being absolute (`/v2/...`, with its query). */
export type Call = (method: string, path: string, init?: CallInit) => Promise<Response>;

export const NAME = 'conformance/test';
export const CROSSMOUNT = 'conformance/other';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ANNOTATION = 'org.opencontainers.conformance.test';

const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const tabbed = (value: unknown) => Buffer.from(JSON.stringify(value, null, '\t'));

interface Blob {
  content: Buffer;
  digest: string;
}
const blob = (content: Buffer | string): Blob => ({ content: Buffer.from(content), digest: sha256(content) });

// Test data shaped like setup.go: tab-indented JSON, unknown fields and nulls kept byte for byte.
const configs = Array.from({ length: 5 }, () =>
  blob(tabbed({ author: randomBytes(8).toString('hex'), architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })),
);
const layer = blob(randomBytes(168));
const layerDescriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: 168, newUnspecifiedField: null };
const configDescriptor = (c: Blob) => ({
  mediaType: 'application/vnd.oci.image.config.v1+json',
  digest: c.digest,
  size: c.content.length,
  data: c.content.toString('base64'),
  newUnspecifiedField: 'aGVsbG8gd29ybGQ=',
});
const manifests = configs.map((c) => blob(tabbed({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor(c), layers: [layerDescriptor] })));
const emptyLayer = blob(tabbed({ schemaVersion: 2, config: configDescriptor(configs[1]!), layers: [] }));
const dummyDigest = sha256('hello world');
const testBlobA = blob(randomBytes(42));
const testBlobB = blob(randomBytes(42));
const emptyJson = blob('{}');
const emptyDescriptor = { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: emptyJson.digest, newUnspecifiedField: null };
const refBlobA = blob('NHL Peanut Butter on my NHL bagel');
const refBlobB = blob('NBA Strawberry Jam on my NBA croissant');
const typeA = 'application/vnd.nhl.peanut.butter.bagel';
const typeB = 'application/vnd.nba.strawberry.jam.croissant';
const subjectOf = (m: Blob) => ({ mediaType: OCI_MANIFEST, size: m.content.length, digest: m.digest, newUnspecifiedField: null });
const artifact = (fields: Record<string, unknown>) => blob(tabbed({ schemaVersion: 2, mediaType: OCI_MANIFEST, ...fields }));
const refAConfig = artifact({ config: { mediaType: typeA, size: 33, digest: refBlobA.digest }, layers: [emptyDescriptor], subject: subjectOf(manifests[4]!), annotations: { [ANNOTATION]: 'test config a' } });
const refBConfig = artifact({ config: { mediaType: typeB, size: 38, digest: refBlobB.digest }, layers: [emptyDescriptor], subject: subjectOf(manifests[4]!), annotations: { [ANNOTATION]: 'test config b' } });
const refALayer = artifact({ artifactType: typeA, config: emptyDescriptor, layers: [{ mediaType: typeA, size: 33, digest: refBlobA.digest }], subject: subjectOf(manifests[4]!), annotations: { [ANNOTATION]: 'test layer a' } });
const refBLayer = artifact({ artifactType: typeB, config: emptyDescriptor, layers: [{ mediaType: typeB, size: 38, digest: refBlobB.digest }], subject: subjectOf(manifests[4]!), annotations: { [ANNOTATION]: 'test layer b' } });
const refCLayer = artifact({ artifactType: typeB, config: emptyDescriptor, layers: [{ mediaType: typeB, size: 38, digest: refBlobB.digest }], subject: subjectOf(manifests[3]!) });
const refIndex = blob(
  tabbed({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    artifactType: 'application/vnd.food.stand',
    manifests: [
      { mediaType: OCI_MANIFEST, size: refAConfig.content.length, digest: refAConfig.digest },
      { mediaType: OCI_MANIFEST, size: refALayer.content.length, digest: refALayer.digest },
    ],
    subject: subjectOf(manifests[4]!),
    annotations: { [ANNOTATION]: 'test index' },
  }),
);
const annotationOf = new Map([
  [refAConfig.digest, 'test config a'],
  [refBConfig.digest, 'test config b'],
  [refALayer.digest, 'test layer a'],
  [refBLayer.digest, 'test layer b'],
  [refIndex.digest, 'test index'],
]);

/** The four workflows, in the suite's order; each is one `it` and expects the previous ones to have run. */
export function conformanceWorkflows(call: Call) {
  const is2xx = (status: number) => status >= 200 && status < 300;
  const pathOf = (res: Response) => {
    const location = res.headers.get('location');
    assert.ok(location, 'Location is set');
    const url = new URL(location, 'http://x');
    return url.pathname + url.search;
  };
  const withDigest = (path: string, digest: string) => `${path}${path.includes('?') ? '&' : '?'}digest=${digest}`;
  const pushBlob = async (b: Blob, name = NAME) => {
    const post = await call('POST', `/v2/${name}/blobs/uploads/`);
    const put = await call('PUT', withDigest(pathOf(post), b.digest), { body: b.content, headers: { 'content-type': 'application/octet-stream' } });
    assert.ok(is2xx(put.status), `blob PUT ${put.status}`);
  };
  const putManifest = (reference: string, m: Blob, contentType = OCI_MANIFEST) =>
    call('PUT', `/v2/${NAME}/manifests/${reference}`, { body: m.content, headers: { 'content-type': contentType } });
  const accept = { accept: OCI_MANIFEST };
  const tagsOf = async (query = '') => ((await (await call('GET', `/v2/${NAME}/tags/list${query}`)).json()) as { tags: string[] }).tags;

  async function pull() {
    for (const b of [configs[0]!, configs[1]!, layer]) await pushBlob(b);
    assert.ok(is2xx((await putManifest('tagtest0', manifests[0]!)).status));
    assert.ok(is2xx((await putManifest(manifests[1]!.digest, manifests[1]!)).status));

    assert.equal((await call('HEAD', `/v2/${NAME}/blobs/${dummyDigest}`)).status, 404);
    const head = await call('HEAD', `/v2/${NAME}/blobs/${configs[0]!.digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), configs[0]!.digest);
    assert.equal((await call('GET', `/v2/${NAME}/blobs/${dummyDigest}`)).status, 404);
    assert.equal((await call('GET', `/v2/${NAME}/blobs/${configs[0]!.digest}`)).status, 200);
    assert.equal((await call('HEAD', `/v2/${NAME}/manifests/.INVALID_MANIFEST_NAME`)).status, 404);
    for (const ref of [manifests[0]!.digest, manifests[1]!.digest, 'tagtest0']) {
      const res = await call('HEAD', `/v2/${NAME}/manifests/${ref}`, { headers: accept });
      assert.equal(res.status, 200, ref);
      assert.equal(res.headers.get('docker-content-digest'), ref === 'tagtest0' ? manifests[0]!.digest : ref);
      assert.equal((await call('GET', `/v2/${NAME}/manifests/${ref}`, { headers: accept })).status, 200);
    }
    assert.equal((await call('GET', `/v2/${NAME}/manifests/.INVALID_MANIFEST_NAME`)).status, 404);
    const wrong = await call('GET', `/v2/${NAME}/manifests/sha256:totallywrong`, { headers: { 'content-type': OCI_MANIFEST } });
    assert.equal(wrong.status, 400);
    const errors = ((await wrong.json()) as { errors: Array<{ code: string }> }).errors;
    assert.equal(errors[0]!.code, 'DIGEST_INVALID');

    for (const m of [manifests[0]!, manifests[1]!]) assert.equal((await call('DELETE', `/v2/${NAME}/manifests/${m.digest}`)).status, 202);
    for (const b of [configs[0]!, configs[1]!, layer]) assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${b.digest}`)).status, 202);
  }

  async function push() {
    const streamed = await call('POST', `/v2/${NAME}/blobs/uploads/`);
    const patch = await call('PATCH', pathOf(streamed), { body: testBlobA.content, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(patch.status, 202);
    assert.equal((await call('PUT', withDigest(pathOf(patch), testBlobA.digest))).status, 201);

    assert.equal((await call('GET', `/v2/${NAME}/blobs/${dummyDigest}`)).status, 404);
    const single = await call('POST', `/v2/${NAME}/blobs/uploads/?digest=${configs[1]!.digest}`, { body: configs[1]!.content, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(single.status, 201);
    pathOf(single);
    assert.equal((await call('GET', `/v2/${NAME}/blobs/${configs[1]!.digest}`)).status, 200);
    const session = await call('POST', `/v2/${NAME}/blobs/uploads/`);
    assert.equal(session.status, 202);
    assert.equal((await call('PUT', withDigest(pathOf(session), configs[1]!.digest), { body: configs[1]!.content })).status, 201);
    await pushBlob(layer);
    assert.equal((await call('GET', `/v2/${NAME}/blobs/${layer.digest}`)).status, 200);

    // chunked: out of order, first chunk, retried chunk, status of the stale URL, second chunk, PUT without body
    const [chunk1, chunk2] = [testBlobB.content.subarray(0, 22), testBlobB.content.subarray(22)];
    const early = await call('POST', `/v2/${NAME}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    assert.equal((await call('PATCH', pathOf(early), { body: chunk2, headers: { 'content-range': '22-41', 'content-type': 'application/octet-stream' } })).status, 416);
    const chunked = await call('POST', `/v2/${NAME}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    const first = await call('PATCH', pathOf(chunked), { body: chunk1, headers: { 'content-range': '0-21', 'content-type': 'application/octet-stream' } });
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('range'), '0-21');
    assert.equal((await call('PATCH', pathOf(chunked), { body: chunk1, headers: { 'content-range': '0-21' } })).status, 416);
    const status = await call('GET', pathOf(chunked));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-21');
    const second = await call('PATCH', pathOf(status), { body: chunk2, headers: { 'content-range': '22-41', 'content-type': 'application/octet-stream' } });
    assert.equal(second.status, 202);
    const done = await call('PUT', withDigest(pathOf(second), testBlobB.digest), { headers: { 'content-length': '0' } });
    assert.equal(done.status, 201);
    pathOf(done);

    const noFrom = await call('POST', `/v2/${CROSSMOUNT}/blobs/uploads/?mount=${dummyDigest}`);
    assert.equal(noFrom.status, 202);
    assert.ok(noFrom.headers.get('location'));
    const mount = await call('POST', `/v2/${CROSSMOUNT}/blobs/uploads/?mount=${testBlobA.digest}&from=${NAME}`);
    assert.equal(mount.status, 201);
    assert.equal(pathOf(mount), `/v2/${CROSSMOUNT}/blobs/${testBlobA.digest}`);
    assert.equal((await call('GET', pathOf(mount))).status, 200);
    assert.equal((await call('POST', `/v2/${CROSSMOUNT}/blobs/uploads/?mount=${testBlobA.digest}`)).status, 201, 'automatic content discovery');

    assert.equal((await call('GET', `/v2/${NAME}/manifests/.INVALID_MANIFEST_NAME`)).status, 404);
    for (const tag of ['test0', 'test1', 'test2', 'test3']) {
      const res = await putManifest(tag, manifests[1]!);
      assert.equal(res.status, 201);
      pathOf(res);
    }
    const empty = await putManifest('emptylayer', emptyLayer);
    assert.equal(empty.status, 201);
    assert.equal((await call('GET', `/v2/${NAME}/manifests/${manifests[1]!.digest}`, { headers: accept })).status, 200);

    for (const m of [manifests[1]!, emptyLayer]) assert.equal((await call('DELETE', `/v2/${NAME}/manifests/${m.digest}`)).status, 202);
    for (const b of [configs[1]!, layer]) assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${b.digest}`)).status, 202);
  }

  async function contentDiscovery() {
    await pushBlob(configs[2]!);
    await pushBlob(layer);
    for (const tag of ['test0', 'test1', 'test2', 'test3']) assert.ok(is2xx((await putManifest(tag, manifests[2]!)).status));
    assert.equal(emptyJson.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    await pushBlob(emptyJson);
    await pushBlob(refBlobA);
    const subject = async (m: Blob, expected: string, contentType = OCI_MANIFEST) => {
      const res = await putManifest(m.digest, m, contentType);
      assert.ok(is2xx(res.status), `PUT ${res.status}`);
      assert.equal(res.headers.get('oci-subject'), expected);
    };
    await subject(refAConfig, manifests[4]!.digest);
    await subject(refALayer, manifests[4]!.digest);
    await subject(refIndex, manifests[4]!.digest, OCI_INDEX);
    await pushBlob(configs[4]!);
    await pushBlob(layer);
    assert.ok(is2xx((await putManifest('tagtest0', manifests[4]!)).status));
    await pushBlob(refBlobB);
    await subject(refBConfig, manifests[4]!.digest);
    await subject(refBLayer, manifests[4]!.digest);
    await subject(refCLayer, manifests[3]!.digest);

    const all = await tagsOf();
    assert.deepEqual(all, ['tagtest0', 'test0', 'test1', 'test2', 'test3']);
    const half = Math.floor(all.length / 2);
    assert.equal((await tagsOf(`?n=${half}`)).length, half);
    const page = await call('GET', `/v2/${NAME}/tags/list?n=${half}&last=${all[half - 1]}`);
    assert.equal(page.status, 200);
    assert.deepEqual(((await page.json()) as { tags: string[] }).tags, all.slice(half, 2 * half));

    const referrers = async (digest: string, query = '') => {
      const res = await call('GET', `/v2/${NAME}/referrers/${digest}${query}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), OCI_INDEX);
      return { res, index: (await res.json()) as { manifests: Array<{ digest: string; annotations?: Record<string, string>; artifactType?: string }> } };
    };
    assert.equal((await referrers(dummyDigest)).index.manifests.length, 0);
    const { index } = await referrers(manifests[4]!.digest);
    assert.equal(index.manifests.length, 5);
    for (const m of index.manifests) assert.deepEqual(m.annotations, { [ANNOTATION]: annotationOf.get(m.digest) });
    const filtered = await referrers(manifests[4]!.digest, `?artifactType=${typeA}`);
    assert.equal(filtered.res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(filtered.index.manifests.map((m) => m.digest).sort(), [refAConfig.digest, refALayer.digest].sort());
    const missing = await referrers(manifests[3]!.digest);
    assert.deepEqual(missing.index.manifests.map((m) => m.digest), [refCLayer.digest]);

    const teardown = [refIndex.digest, manifests[2]!.digest, manifests[4]!.digest, refAConfig.digest, refALayer.digest, 'tagtest0', refBConfig.digest, refBLayer.digest, refCLayer.digest];
    for (const ref of teardown) assert.ok([202, 404, 405].includes((await call('DELETE', `/v2/${NAME}/manifests/${ref}`)).status), ref);
    assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${configs[2]!.digest}`)).status, 202);
    assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${layer.digest}`)).status, 202);
    for (const b of [configs[4]!, refBlobA, refBlobB, emptyJson]) assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${b.digest}`)).status, 202);
  }

  async function contentManagement() {
    await pushBlob(configs[3]!);
    await pushBlob(layer);
    assert.ok(is2xx((await putManifest('tagtest0', manifests[3]!)).status));
    const before = (await tagsOf()).length;
    assert.equal((await call('DELETE', `/v2/${NAME}/manifests/tagtest0`)).status, 202);
    assert.equal((await call('DELETE', `/v2/${NAME}/manifests/${manifests[3]!.digest}`)).status, 202);
    assert.equal((await call('GET', `/v2/${NAME}/manifests/${manifests[3]!.digest}`)).status, 404);
    assert.ok((await tagsOf()).length < before);
    assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${configs[3]!.digest}`)).status, 202);
    assert.equal((await call('DELETE', `/v2/${NAME}/blobs/${layer.digest}`)).status, 202);
    assert.equal((await call('GET', `/v2/${NAME}/blobs/${configs[3]!.digest}`)).status, 404);
  }

  return { pull, push, contentDiscovery, contentManagement };
}
