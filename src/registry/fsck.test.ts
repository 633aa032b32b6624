// pier fsck's search for orphans (bytes in storage that no index row knows) and its repair, over
// every database and local store: what is listed, what the repair removes (only orphans older
// than the cutoff), and the race with a push of the same blob: an orphan adopted for deletion is
// never linked, a linked one is never adopted, and the client's retry stores the blob anew.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { OciError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import { body, engineSetups, repositoryName, sha256, type Engine } from './engine.testing.js';
import { findOrphans } from './fsck.js';

const actor = { account: 'alice' };

/** Bytes stored under their digest with no index row, as a process killed after storing them leaves them. */
async function storeOrphan(store: BlobStore, bytes: Buffer): Promise<Digest> {
  const digest = sha256(bytes);
  const id = `orphan-${digest.slice(7, 19)}`;
  await store.createUpload(id);
  await store.append(id, 0, body(bytes));
  await store.commit(id, digest, bytes.length);
  return digest;
}

for (const setup of await engineSetups()) {
  describe(`pier fsck: orphans (${setup.name})`, setup.options, () => {
    let engine: Engine;
    before(async () => {
      engine = await setup.open();
    });
    after(() => engine?.close());

    it('lists the bytes no row knows; the repair removes those older than the cutoff, and nothing the index knows', async () => {
      const repo = repositoryName();
      const known = randomBytes(3000);
      await engine.registry.uploads.monolithic(repo, sha256(known), body(known), { length: known.length }, actor);
      const orphans = [randomBytes(1000), randomBytes(2000)];
      const digests = await Promise.all(orphans.map((bytes) => storeOrphan(engine.store, bytes)));
      const ours = <T extends { digest: string }>(listed: T[]) => listed.filter((o) => digests.includes(o.digest as Digest));

      const recent = (await findOrphans(engine.gcIndex, engine.store, { cutoff: Date.now() - 60_000, repair: { now: Date.now() } }))!;
      assert.equal(ours(recent.listed).length, 2);
      assert.ok(recent.listed.every((o) => !o.removed) && recent.removed === 0, 'written after the cutoff: left alone');
      assert.ok(recent.recent >= 2);
      assert.ok(!recent.listed.some((o) => o.digest === sha256(known)), 'a blob the index knows is no orphan');

      const listedOnly = (await findOrphans(engine.gcIndex, engine.store, { cutoff: Date.now() + 1000 }))!;
      assert.deepEqual(ours(listedOnly.listed).map((o) => [o.size, o.removed]).sort(), [[1000, false], [2000, false]]);
      for (const digest of digests) assert.notEqual(await engine.store.stat(digest), undefined, 'without repair nothing goes');

      const repaired = (await findOrphans(engine.gcIndex, engine.store, { cutoff: Date.now() + 1000, repair: { now: Date.now() } }))!;
      assert.deepEqual(ours(repaired.listed).map((o) => [o.size, o.removed]).sort(), [[1000, true], [2000, true]]);
      assert.ok(repaired.removedBytes >= 3000);
      for (const digest of digests) assert.equal(await engine.store.stat(digest), undefined);
      assert.equal(await engine.store.stat(sha256(known)), known.length);
      // no row left behind: the adopted rows went with their bytes
      assert.deepEqual(await engine.gcIndex.knownBlobs(digests), new Set());
      const again = (await findOrphans(engine.gcIndex, engine.store, { cutoff: Date.now() + 1000 }))!;
      assert.deepEqual(ours(again.listed), []);
    });

    it('an orphan adopted for deletion is not linked (the push is told to push again); once gone, the retry stores it; a linked one is never adopted', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(4000);
      const digest = await storeOrphan(engine.store, bytes);
      assert.equal(await engine.gcIndex.adoptOrphan({ digest, size: bytes.length }, engine.clock.now()), true);
      // a push of the same blob between the adoption and the deletion: its commit keeps the
      // existing bytes, and linking them is refused
      await assert.rejects(engine.registry.uploads.monolithic(repo, digest, body(bytes), { length: bytes.length }, actor), (error: unknown) => {
        assert.ok(error instanceof OciError, String(error));
        assert.equal(error.code, 'BLOB_UPLOAD_UNKNOWN');
        return true;
      });
      assert.equal(await engine.index.getBlobLink(repo, digest), undefined);
      await engine.store.delete(digest);
      await engine.gcIndex.forgetDeleted([digest]);
      // the client's retry
      await engine.registry.uploads.monolithic(repo, digest, body(bytes), { length: bytes.length }, actor);
      assert.equal((await engine.index.getBlobLink(repo, digest))?.size, bytes.length);
      assert.equal(await engine.store.stat(digest), bytes.length);
      // linked now: a repair that listed it before the link cannot adopt it
      assert.equal(await engine.gcIndex.adoptOrphan({ digest, size: bytes.length }, engine.clock.now()), false);
      const report = (await findOrphans(engine.gcIndex, engine.store, { cutoff: Date.now() + 1000, repair: { now: Date.now() } }))!;
      assert.ok(!report.listed.some((o) => o.digest === digest));
      assert.equal(await engine.store.stat(digest), bytes.length);
    });

    it('a repair adopting an orphan while a push links it: one of the two wins, never both', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(700);
      const digest = await storeOrphan(engine.store, bytes);
      let entered!: () => void;
      let release!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      // the link stops where it checks the bytes; the repair adopts meanwhile (on PostgreSQL it
      // waits for the link's row; SQLite runs one transaction at a time)
      const linking = engine.index.linkBlob(repo, digest, bytes.length, engine.clock.now(), async () => {
        entered();
        await gate;
        return (await engine.store.stat(digest)) !== undefined;
      });
      await inside;
      const adopting = engine.gcIndex.adoptOrphan({ digest, size: bytes.length }, engine.clock.now());
      await new Promise((resolve) => setTimeout(resolve, 200));
      release();
      const [linked, adopted] = await Promise.allSettled([linking, adopting]);
      assert.equal(linked.status, 'fulfilled', String((linked as PromiseRejectedResult).reason));
      assert.deepEqual(adopted, { status: 'fulfilled', value: false }, 'a linked blob is not adopted');
      assert.equal((await engine.index.getBlobLink(repo, digest))?.size, bytes.length);
    });

    it('bytes that a repair deleted before the link was made: the link is refused and leaves no row', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(500);
      const digest = await storeOrphan(engine.store, bytes);
      let asked = 0;
      await assert.rejects(
        engine.index.linkBlob(repo, digest, bytes.length, engine.clock.now(), async () => {
          asked++;
          await engine.store.delete(digest); // the repair, done by the time the link looks
          return (await engine.store.stat(digest)) !== undefined;
        }),
        /being garbage-collected/,
      );
      assert.equal(asked, 1);
      assert.equal(await engine.index.getBlobLink(repo, digest), undefined);
      assert.deepEqual(await engine.gcIndex.knownBlobs([digest]), new Set());
    });
  });
}
