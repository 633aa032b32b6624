// The manifest service itself, without HTTP, over a real RegistryIndex (SQLite and PostgreSQL) and
// a real BlobStore (memory and filesystem): bytes kept as pushed, tags that move, references that
// must exist in the repository, index children, deletion by tag or by digest, the size limit, the
// gate, and the manifest cache told of every change.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ManifestRecord } from '../metadata/registry-index.js';
import { makeDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaType } from '../oci/media-types.js';
import type { RepositoryName } from '../oci/names.js';
import { body, engineSetups, repositoryName, sha256, type Engine } from './engine.testing.js';
import type { ManifestCache } from './ports.js';
import type { Registry } from './registry.js';

const actor = { account: 'alice' };
const CONFIG = 'application/vnd.oci.image.config.v1+json';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

const oci = (code: string, options: { status?: number; message?: RegExp; detail?: unknown } = {}) => (error: unknown) => {
  assert.ok(error instanceof OciError, `expected OciError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (options.status !== undefined) assert.equal(error.status, options.status);
  if (options.message) assert.match(error.message, options.message);
  if (options.detail !== undefined) assert.deepEqual(error.detail, options.detail);
  return true;
};

interface Pushed {
  digest: Digest;
  bytes: Buffer;
  mediaType: string;
  descriptor: { mediaType: string; digest: Digest; size: number; platform?: { architecture: string; os: string } };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

async function pushBlob(registry: Registry, repository: RepositoryName, bytes: Buffer): Promise<{ mediaType: string; digest: Digest; size: number }> {
  await registry.uploads.monolithic(repository, sha256(bytes), body(bytes), { length: bytes.length }, actor);
  return { mediaType: LAYER, digest: sha256(bytes), size: bytes.length };
}

/** An image manifest (not pushed) over a config and a layer (pushed, unless `blobs` is false). */
async function imageManifest(
  registry: Registry,
  repository: RepositoryName,
  options: { blobs?: boolean; subject?: Pushed['descriptor']; artifactType?: string; platform?: { architecture: string; os: string } } = {},
): Promise<Buffer> {
  const config = json({ architecture: options.platform?.architecture ?? 'amd64', os: 'linux', nonce: randomBytes(6).toString('hex') });
  const layer = randomBytes(200);
  if (options.blobs !== false) {
    await pushBlob(registry, repository, config);
    await pushBlob(registry, repository, layer);
  }
  return json({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: { mediaType: CONFIG, digest: sha256(config), size: config.length },
    layers: [{ mediaType: LAYER, digest: sha256(layer), size: layer.length }],
    ...(options.subject ? { subject: options.subject } : {}),
  });
}

async function pushImage(
  registry: Registry,
  repository: RepositoryName,
  reference: string | undefined,
  options: Parameters<typeof imageManifest>[2] = {},
): Promise<Pushed> {
  const bytes = await imageManifest(registry, repository, options);
  const digest = sha256(bytes);
  await registry.manifests.put(repository, reference ?? digest, bytes, MediaType.OciManifest, [], actor);
  const descriptor = { mediaType: MediaType.OciManifest, digest, size: bytes.length, ...(options.platform ? { platform: options.platform } : {}) };
  return { digest, bytes, mediaType: MediaType.OciManifest, descriptor };
}

const indexOf = (children: Array<Pushed['descriptor']>) => json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: children });

for (const setup of await engineSetups()) {
  describe(`ManifestService (${setup.name})`, setup.options, () => {
    let engine: Engine;
    before(async () => {
      engine = await setup.open();
    });
    after(() => engine?.close());

    const registry = () => engine.registry;
    const manifests = () => engine.registry.manifests;
    /** manifest and tag events of one repository (not its blobs') */
    const eventsOf = (repository: string) => engine.events.filter((e) => e.repository === repository && !e.type.startsWith('blob.'));

    it('keeps the bytes as pushed under the tag and the digest, and reports the push', async () => {
      const repo = repositoryName();
      const compact = await imageManifest(registry(), repo);
      // the same manifest with its own spacing: a registry never rewrites what it was given
      const bytes = Buffer.from(`  ${JSON.stringify(JSON.parse(compact.toString()), null, 3)}\n\n`);
      const digest = sha256(bytes);
      assert.deepEqual(await manifests().put(repo, 'v1', bytes, MediaType.OciManifest, ['stable'], actor), { digest, subject: undefined, tags: ['v1', 'stable'] });
      for (const reference of ['v1', 'stable', digest]) {
        const record = await manifests().get(repo, reference, undefined);
        assert.deepEqual(record.content, bytes, reference);
        assert.equal(record.digest, digest);
        assert.equal(record.mediaType, MediaType.OciManifest);
      }
      assert.deepEqual(eventsOf(repo), [{ type: 'manifest.pushed', repository: repo, digest, mediaType: MediaType.OciManifest, size: bytes.length, tags: ['v1', 'stable'], actor }]);
      const parsed = JSON.parse(bytes.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
      const check = engine.gate.checks.filter((c) => c.repository === repo && c.operation === 'manifest');
      assert.deepEqual(check, [{ repository: repo, actor, sizeDelta: bytes.length, operation: 'manifest', blobs: [parsed.config.digest, parsed.layers[0]!.digest], digest }]);

      // a GET is a pull (HEAD is not: no `pull` argument)
      await manifests().get(repo, 'v1', undefined, { actor });
      assert.deepEqual(engine.events.filter((e) => e.repository === repo && e.type === 'manifest.pulled'), [
        { type: 'manifest.pulled', repository: repo, digest, reference: 'v1', actor },
      ]);
    });

    it('moves a tag to the manifest pushed last; the one before stays by digest', async () => {
      const repo = repositoryName();
      const first = await pushImage(registry(), repo, 'latest');
      const second = await pushImage(registry(), repo, 'latest');
      assert.equal((await manifests().get(repo, 'latest', undefined)).digest, second.digest);
      assert.deepEqual((await manifests().get(repo, first.digest, undefined)).content, first.bytes);
      assert.deepEqual((await registry().listings.tags(repo, {})).items, ['latest']);
      // pushed again by digest with the tag: the tag moves back
      await manifests().put(repo, first.digest, first.bytes, MediaType.OciManifest, ['latest'], actor);
      assert.equal((await manifests().get(repo, 'latest', undefined)).digest, first.digest);
    });

    it('refuses a manifest whose blobs this repository does not hold, and stores nothing', async () => {
      const repo = repositoryName();
      const other = repositoryName();
      // the blobs exist, in another repository: that does not make them this one's
      const bytes = await imageManifest(registry(), other);
      const parsed = JSON.parse(bytes.toString()) as { config: { digest: string } };
      await assert.rejects(
        manifests().put(repo, 'v1', bytes, MediaType.OciManifest, [], actor),
        oci('MANIFEST_BLOB_UNKNOWN', { message: /unknown blob .* \(and 1 more\)/, detail: { digest: parsed.config.digest } }),
      );
      await assert.rejects(manifests().get(repo, 'v1', undefined), oci('MANIFEST_UNKNOWN'));
      await assert.rejects(manifests().get(repo, sha256(bytes), undefined), oci('MANIFEST_UNKNOWN'));
      assert.deepEqual(eventsOf(repo), []);
    });

    it('accepts a non-distributable layer that lives elsewhere (urls) without holding it', async () => {
      const repo = repositoryName();
      const config = json({ architecture: 'amd64', os: 'windows' });
      await pushBlob(registry(), repo, config);
      const foreign = { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: sha256('elsewhere'), size: 9, urls: ['https://example.com/layer'] };
      const bytes = json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: CONFIG, digest: sha256(config), size: config.length }, layers: [foreign] });
      await manifests().put(repo, 'win', bytes, MediaType.OciManifest, [], actor);
      // without urls it is a blob like any other, and must be here
      const without = json({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: CONFIG, digest: sha256(config), size: config.length }, layers: [{ ...foreign, urls: undefined }] });
      await assert.rejects(manifests().put(repo, 'bad', without, MediaType.OciManifest, [], actor), oci('MANIFEST_BLOB_UNKNOWN'));
    });

    it('stores an index only when its children are in the repository, and serves its linux/amd64 child to a client that cannot read it', async () => {
      const repo = repositoryName();
      const amd64 = await pushImage(registry(), repo, undefined, { platform: { architecture: 'amd64', os: 'linux' } });
      const arm64 = await imageManifest(registry(), repo, { platform: { architecture: 'arm64', os: 'linux' } });
      const arm64Descriptor = { mediaType: MediaType.OciManifest, digest: sha256(arm64), size: arm64.length, platform: { architecture: 'arm64', os: 'linux' } };
      const index = indexOf([arm64Descriptor, amd64.descriptor]);
      await assert.rejects(
        manifests().put(repo, 'multi', index, MediaType.OciIndex, [], actor),
        oci('MANIFEST_BLOB_UNKNOWN', { message: new RegExp(`unknown manifest ${sha256(arm64)}`), detail: { digest: sha256(arm64) } }),
      );
      await manifests().put(repo, sha256(arm64), arm64, MediaType.OciManifest, [], actor);
      await manifests().put(repo, 'multi', index, MediaType.OciIndex, [], actor);

      assert.equal((await manifests().get(repo, 'multi', new Set([MediaType.OciIndex, MediaType.OciManifest]))).digest, sha256(index));
      assert.equal((await manifests().get(repo, 'multi', undefined)).digest, sha256(index), 'no Accept: the type pushed');
      assert.equal((await manifests().get(repo, 'multi', new Set([MediaType.OciManifest]))).digest, amd64.digest, 'the linux/amd64 child');
      // a digest names exactly one manifest: never another one in its place
      await assert.rejects(manifests().get(repo, sha256(index), new Set([MediaType.OciManifest])), oci('MANIFEST_UNKNOWN', { status: 404 }));
      await assert.rejects(manifests().get(repo, 'multi', new Set([MediaType.DockerManifest])), oci('MANIFEST_UNKNOWN', { status: 404 }));
    });

    it('deletes a tag alone, or a manifest with all its tags', async () => {
      const repo = repositoryName();
      const image = await pushImage(registry(), repo, 'one');
      await manifests().put(repo, image.digest, image.bytes, MediaType.OciManifest, ['two', 'three'], actor);

      await manifests().delete(repo, 'one', actor);
      await assert.rejects(manifests().get(repo, 'one', undefined), oci('MANIFEST_UNKNOWN'));
      assert.equal((await manifests().get(repo, image.digest, undefined)).digest, image.digest, 'deleting a tag keeps the manifest');
      await assert.rejects(manifests().delete(repo, 'one', actor), oci('MANIFEST_UNKNOWN', { status: 404 }));

      await manifests().delete(repo, image.digest, actor);
      for (const reference of ['two', 'three', image.digest]) await assert.rejects(manifests().get(repo, reference, undefined), oci('MANIFEST_UNKNOWN'));
      assert.deepEqual((await registry().listings.tags(repo, {})).items, []);
      await assert.rejects(manifests().delete(repo, image.digest, actor), oci('MANIFEST_UNKNOWN', { status: 404 }));
      await assert.rejects(manifests().delete(repo, 'not a tag!', actor), oci('MANIFEST_UNKNOWN', { status: 404 }));
      assert.deepEqual(
        eventsOf(repo).map((e) => e.type),
        ['manifest.pushed', 'manifest.pushed', 'tag.deleted', 'manifest.deleted'],
      );
    });

    it('refuses a digest reference that is not the digest of the body, and takes a sha512 one that is', async () => {
      const repo = repositoryName();
      const bytes = await imageManifest(registry(), repo);
      await assert.rejects(manifests().put(repo, sha256('something else'), bytes, MediaType.OciManifest, [], actor), oci('DIGEST_INVALID', { status: 400 }));
      await assert.rejects(manifests().get(repo, sha256(bytes), undefined), oci('MANIFEST_UNKNOWN'));
      const sha512 = makeDigest('sha512', createHash('sha512').update(bytes).digest('hex'));
      assert.equal((await manifests().put(repo, sha512, bytes, MediaType.OciManifest, [], actor)).digest, sha512);
      assert.deepEqual((await manifests().get(repo, sha512, undefined)).content, bytes);
    });

    it('refuses bad tags, bodies over the limit (before parsing them), and what is not a manifest', async () => {
      const repo = repositoryName();
      const bytes = await imageManifest(registry(), repo);
      await assert.rejects(manifests().put(repo, 'no spaces', bytes, MediaType.OciManifest, [], actor), oci('TAG_INVALID'));
      await assert.rejects(manifests().put(repo, 'v1', bytes, MediaType.OciManifest, ['-dash'], actor), oci('TAG_INVALID'));
      await assert.rejects(manifests().get(repo, 'no spaces', undefined), oci('MANIFEST_UNKNOWN', { status: 404 }));

      const small = engine.replica({ manifestMaxBytes: 100 });
      await assert.rejects(small.manifests.put(repo, 'big', Buffer.alloc(101, '{'), undefined, [], actor), oci('SIZE_INVALID', { status: 413, message: /100 bytes/ }));
      await assert.rejects(manifests().put(repo, 'junk', Buffer.from('{ not json'), MediaType.OciManifest, [], actor), oci('MANIFEST_INVALID'));
      await assert.rejects(
        manifests().put(repo, 'old', json({ schemaVersion: 1, name: repo, tag: 'old', fsLayers: [] }), undefined, [], actor),
        oci('MANIFEST_INVALID', { message: /schema 1/ }),
      );
      assert.deepEqual((await registry().listings.tags(repo, {})).items, [], 'nothing was stored');
    });

    it('stores nothing when the gate refuses the manifest', async () => {
      const repo = repositoryName();
      const bytes = await imageManifest(registry(), repo);
      engine.gate.answer = (check) => {
        if (check.repository === repo && check.operation === 'manifest') throw new OciError('DENIED', 'the plan is full');
      };
      try {
        await assert.rejects(manifests().put(repo, 'v1', bytes, MediaType.OciManifest, [], actor), oci('DENIED', { message: /the plan is full/ }));
      } finally {
        engine.gate.answer = () => undefined;
      }
      await assert.rejects(manifests().get(repo, 'v1', undefined), oci('MANIFEST_UNKNOWN'));
      assert.deepEqual(eventsOf(repo), []);
    });

    it('records the subject of a referrer, with its artifact type', async () => {
      const repo = repositoryName();
      const subject = await pushImage(registry(), repo, 'app');
      const signature = await imageManifest(registry(), repo, { subject: subject.descriptor, artifactType: 'application/vnd.example.signature' });
      assert.equal((await manifests().put(repo, sha256(signature), signature, MediaType.OciManifest, [], actor)).subject, subject.digest);
      assert.deepEqual((await registry().listings.referrers(repo, subject.digest)).manifests, [
        { mediaType: MediaType.OciManifest, digest: sha256(signature), size: signature.length, artifactType: 'application/vnd.example.signature' },
      ]);
      assert.deepEqual((await registry().listings.referrers(repo, subject.digest, 'application/vnd.other')).manifests, []);
      // a referrer may come before its subject (the spec allows it)
      const early = await imageManifest(registry(), repo, { subject: { mediaType: MediaType.OciManifest, digest: sha256('not yet'), size: 7 } });
      await manifests().put(repo, sha256(early), early, MediaType.OciManifest, [], actor);
      assert.equal((await registry().listings.referrers(repo, sha256('not yet'))).manifests.length, 1);
    });

    it('reads through the manifest cache, and invalidates it before a push or a delete answers', async () => {
      const calls: string[] = [];
      const cached = new Map<string, ManifestRecord>();
      const cache: ManifestCache = {
        async read(repository, reference) {
          calls.push(`read ${reference}`);
          const record = cached.get(`${repository}@${reference}`);
          if (record) return { record };
          return { fill: async (filled) => void cached.set(`${repository}@${reference}`, filled) };
        },
        async invalidate(repository) {
          calls.push(`invalidate ${repository}`);
          for (const key of [...cached.keys()]) if (key.startsWith(`${repository}@`)) cached.delete(key);
        },
      };
      const withCache = engine.replica({ manifestCache: cache });
      const repo = repositoryName();
      const image = await pushImage(withCache, repo, 'v1');
      assert.deepEqual(calls, [`invalidate ${repo}`]);
      await withCache.manifests.get(repo, 'v1', undefined);
      assert.ok(cached.has(`${repo}@v1`), 'a miss fills the cache');
      // proof that a hit is served from the cache: a record the index does not hold
      const planted = { ...(cached.get(`${repo}@v1`) as ManifestRecord), digest: sha256('planted') };
      cached.set(`${repo}@v1`, planted);
      assert.equal((await withCache.manifests.get(repo, 'v1', undefined)).digest, sha256('planted'));

      await withCache.manifests.delete(repo, 'v1', actor);
      assert.equal(calls.at(-1), `invalidate ${repo}`);
      await assert.rejects(withCache.manifests.get(repo, 'v1', undefined), oci('MANIFEST_UNKNOWN'), 'the deletion emptied the cache');
      await withCache.manifests.delete(repo, image.digest, actor);
      assert.deepEqual(calls.filter((c) => c.startsWith('invalidate')), [`invalidate ${repo}`, `invalidate ${repo}`, `invalidate ${repo}`]);
    });
  });
}
