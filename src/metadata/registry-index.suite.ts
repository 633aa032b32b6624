import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetadataDatabase } from './database.js';
import { RegistryIndex, type NewManifest } from './registry-index.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

/** The one suite the RegistryIndex passes on every database (SQLite now, PostgreSQL later). */
export function registryIndexSuite(name: string, open: () => Promise<MetadataDatabase>): void {
  describe(`RegistryIndex: ${name}`, () => {
    const withIndex = (test: (index: RegistryIndex) => Promise<void>) => async () => {
      const database = await open();
      try {
        // on SQLite with its ReadCache, as the server runs it: every read after a write checks that the write is seen
        await test(new RegistryIndex(database.db, { changes: database.changes }));
      } finally {
        await database.close();
      }
    };
    const manifest = (over: Partial<NewManifest>): NewManifest => ({
      repository: 'alice/app',
      digest: D(100),
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      content: Buffer.from('{}'),
      references: [],
      tags: [],
      now: 1,
      ...over,
    });

    it('links blobs per repository and unlinks from one only', withIndex(async (index) => {
      await index.linkBlob('alice/app', D(1), 10, 1000);
      await index.linkBlob('bob/app', D(1), 10, 2000);
      assert.deepEqual(await index.getBlobLink('alice/app', D(1)), { size: 10, lastSeenAt: 1000 });
      assert.equal(await index.unlinkBlob('alice/app', D(1)), true);
      assert.equal(await index.unlinkBlob('alice/app', D(1)), false);
      assert.equal(await index.getBlobLink('alice/app', D(1)), undefined);
      assert.equal((await index.getBlobLink('bob/app', D(1)))?.size, 10);
      assert.equal(await index.findBlob(D(1)), 10);
      await index.touchBlobLink('bob/app', D(1), 5000);
      assert.equal((await index.getBlobLink('bob/app', D(1)))?.lastSeenAt, 5000);
    }));

    it('advances an upload only from the size it is at', withIndex(async (index) => {
      await index.createUpload({ id: 'u', repository: 'alice/app', size: 0, sha256: 'e', created_at: 1, updated_at: 1 });
      assert.equal(await index.claimUpload('u', 0, 1, 100, 'c1'), true);
      assert.equal(await index.advanceUpload('u', 'c1', 5, 'h5', 2), true);
      assert.equal(await index.advanceUpload('u', 'c1', 7, 'h7', 3), false, 'a claim records one chunk');
      assert.deepEqual(await index.getUpload('u'), { id: 'u', repository: 'alice/app', size: 5, sha256: 'h5', created_at: 1, updated_at: 2 });
      assert.deepEqual(await index.uploadsIdleSince(3, 3, 10), ['u']);
      assert.deepEqual(await index.uploadsIdleSince(2, 3, 10), []);
      assert.equal(await index.claimUpload('u', 4, 3, 100, 'c2'), false, 'a claim names the size the writer saw');
      assert.equal(await index.claimUpload('u', 5, 3, 100, 'c2'), true);
      assert.equal(await index.claimUpload('u', 5, 50, 200, 'c3'), false, 'one writer at a time');
      assert.deepEqual(await index.uploadsIdleSince(3, 50, 10), [], 'a claimed session is not idle');
      assert.equal(await index.claimUpload('u', 5, 101, 200, 'c3'), true, 'the claim of a writer that died expires');
      assert.equal(await index.renewUploadClaim('u', 'c2', 400), false, 'the expired holder cannot renew');
      assert.equal(await index.advanceUpload('u', 'c2', 9, 'h9', 102), false, 'nor record a chunk');
      assert.equal(await index.holdsUploadClaim('u', 'c2', 102), false);
      assert.equal(await index.holdsUploadClaim('u', 'c3', 102), true);
      assert.equal(await index.renewUploadClaim('u', 'c3', 400), true, 'the holder renews its claim');
      assert.equal(await index.claimUpload('u', 5, 300, 500, 'c4'), false, 'a renewed claim still holds');
      await index.releaseUpload('u', 'c2');
      assert.equal(await index.claimUpload('u', 5, 300, 500, 'c4'), false, 'only the holder releases');
      await index.releaseUpload('u', 'c3');
      assert.equal(await index.renewUploadClaim('u', 'c3', 500), false, 'a released claim is not renewed');
      assert.equal(await index.claimUpload('u', 5, 102, 300, 'c5'), true);
      await index.completeUpload('u', 'alice/app', D(2), 5, 4);
      assert.equal(await index.getUpload('u'), undefined);
      assert.equal((await index.getBlobLink('alice/app', D(2)))?.size, 5);
      assert.equal(await index.repositoryExists('alice/app'), true);
    }));

    it('refuses a manifest whose references are missing, and stores nothing', withIndex(async (index) => {
      await index.linkBlob('alice/app', D(1), 1, 1);
      const result = await index.putManifest(
        manifest({ references: [{ digest: D(1), kind: 'blob' }, { digest: D(2), kind: 'blob' }, { digest: D(3), kind: 'manifest' }], tags: ['v1'] }),
      );
      assert.deepEqual(result.missing, [{ digest: D(2), kind: 'blob' }, { digest: D(3), kind: 'manifest' }]);
      assert.equal(await index.getTaggedManifest('alice/app', 'v1'), undefined);
      assert.equal(await index.getManifest('alice/app', D(100)), undefined);
    }));

    it('stores manifests byte for byte, moves tags and deletes with tags', withIndex(async (index) => {
      const content = Buffer.from('{ "schemaVersion" : 2 }\n');
      await index.putManifest(manifest({ content, tags: ['v1', 'latest'] }));
      await index.putManifest(manifest({ digest: D(101), tags: ['latest'] }));
      assert.deepEqual((await index.getTaggedManifest('alice/app', 'v1'))?.content, content);
      assert.equal((await index.getTaggedManifest('alice/app', 'latest'))?.digest, D(101));
      assert.equal(await index.deleteManifest('alice/app', D(100)), true);
      assert.deepEqual(await index.listTags('alice/app', {}), ['latest']);
      assert.equal(await index.deleteManifest('alice/app', D(100)), false);
      assert.equal(await index.deleteTag('alice/app', 'latest'), true);
      assert.deepEqual(await index.listTags('alice/app', {}), []);
      assert.ok(await index.getManifest('alice/app', D(101)), 'deleting a tag keeps the manifest');
    }));

    it('lists tags and repositories in byte order with n and last', withIndex(async (index) => {
      const tags = ['b', 'B', 'a', '_x', '-y', '.z', 'a-1', 'a.1', 'a_1', 'Z9', '0'];
      await index.putManifest(manifest({ tags }));
      const sorted = [...tags].sort((x, y) => (Buffer.compare(Buffer.from(x), Buffer.from(y))));
      assert.deepEqual(await index.listTags('alice/app', {}), sorted);
      assert.deepEqual(await index.listTags('alice/app', { n: 3 }), sorted.slice(0, 3));
      assert.deepEqual(await index.listTags('alice/app', { n: 3, last: sorted[2] }), sorted.slice(3, 6));
      for (const repo of ['zed/a', 'alice/b', 'Alice', 'alice/a-b', 'alice/a_b']) await index.linkBlob(repo, D(1), 1, 1);
      const repos = await index.listRepositories({});
      assert.deepEqual(repos, [...repos].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
      assert.deepEqual(await index.listRepositories({ last: 'alice/app', n: 2 }), ['alice/b', 'zed/a']);
    }));

    it('finds referrers by subject, filtered by artifact type', withIndex(async (index) => {
      await index.putManifest(manifest({ digest: D(201), subject: D(100), artifactType: 'application/x.sig', annotations: { a: '1' } }));
      await index.putManifest(manifest({ digest: D(202), subject: D(100), artifactType: 'application/x.sbom' }));
      await index.putManifest(manifest({ digest: D(203), subject: D(999) }));
      const all = await index.listReferrers('alice/app', D(100));
      assert.deepEqual(all.map((r) => r.digest), [D(201), D(202)]);
      assert.deepEqual(all[0]!.annotations, { a: '1' });
      const sigs = await index.listReferrers('alice/app', D(100), 'application/x.sig');
      assert.deepEqual(sigs.map((r) => r.digest), [D(201)]);
      assert.deepEqual(await index.listReferrers('other/repo', D(100)), []);
    }));
  });
}
