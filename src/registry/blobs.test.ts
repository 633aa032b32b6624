// The blob service itself, without HTTP, over a real RegistryIndex (SQLite and PostgreSQL) and a
// real BlobStore (memory and filesystem): which repository may read a blob, ranges, the last-seen
// time that HEAD refreshes, cross-repository mounts, and deletion from one repository only.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { RepositoryName } from '../oci/names.js';
import { body, engineSetups, repositoryName, sha256, type Engine } from './engine.testing.js';

const actor = { account: 'alice' };

const oci = (code: string, status?: number) => (error: unknown) => {
  assert.ok(error instanceof OciError, `expected OciError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (status !== undefined) assert.equal(error.status, status);
  return true;
};

for (const setup of await engineSetups()) {
  describe(`BlobService (${setup.name})`, setup.options, () => {
    let engine: Engine;
    before(async () => {
      engine = await setup.open();
    });
    after(() => engine?.close());

    const blobs = () => engine.registry.blobs;
    const push = async (repository: RepositoryName, bytes: Buffer) => {
      await engine.registry.uploads.monolithic(repository, sha256(bytes), body(bytes), { length: bytes.length }, actor);
      return sha256(bytes);
    };
    /** what writeTo writes, and whether `opened` ran before the first byte */
    const written = async (digest: Digest, size: number, range?: { start: number; end: number }) => {
      const destination = new PassThrough();
      const chunks: Buffer[] = [];
      let openedFirst: boolean | undefined;
      destination.on('data', (chunk: Buffer) => {
        openedFirst ??= false;
        chunks.push(chunk);
      });
      await blobs().writeTo(digest, size, range, destination, () => {
        openedFirst ??= true;
      });
      return { bytes: Buffer.concat(chunks), openedFirst };
    };

    it('answers HEAD with the size, in the repositories that hold the blob only', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(4_000);
      const digest = await push(repo, bytes);
      assert.deepEqual(await blobs().stat(repo, digest), { digest, size: 4_000 });
      await assert.rejects(blobs().stat(repositoryName(), digest), oci('BLOB_UNKNOWN', 404));
      await assert.rejects(blobs().stat(repo, sha256('never pushed')), oci('BLOB_UNKNOWN', 404));
      await assert.rejects(blobs().stat(repo, 'sha256:short'), oci('DIGEST_INVALID', 400));
    });

    it('refreshes the last-seen time on HEAD once it is five minutes old (the collector spares what clients just saw)', async () => {
      const repo = repositoryName();
      const digest = await push(repo, randomBytes(100));
      const pushedAt = engine.clock.now();
      engine.clock.advance(4 * 60_000);
      await blobs().stat(repo, digest);
      assert.equal((await engine.index.getBlobLink(repo, digest))?.lastSeenAt, pushedAt, 'not written again within five minutes');
      engine.clock.advance(2 * 60_000);
      await blobs().stat(repo, digest);
      assert.equal((await engine.index.getBlobLink(repo, digest))?.lastSeenAt, engine.clock.now());
    });

    it('writes the blob, or a range of it, after calling opened', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(300_000);
      const digest = await push(repo, bytes);
      assert.deepEqual(await written(digest, bytes.length), { bytes, openedFirst: true });
      assert.deepEqual(await written(digest, bytes.length, { start: 1_000, end: 250_999 }), { bytes: bytes.subarray(1_000, 251_000), openedFirst: true });
      assert.deepEqual(await written(sha256(''), 0), { bytes: Buffer.alloc(0), openedFirst: true }, 'an empty blob: opened, no bytes');
      // the index says a size the store cannot serve (its bytes are gone): BLOB_UNKNOWN, before any byte
      const gone = randomBytes(50);
      const goneDigest = await push(repo, gone);
      await engine.store.delete(goneDigest);
      await assert.rejects(written(goneDigest, 50), oci('BLOB_UNKNOWN'));
    });

    it('mounts a blob from a repository that holds it, and starts an upload when it cannot', async () => {
      const from = repositoryName();
      const repo = repositoryName();
      const digest = await push(from, randomBytes(1_000));
      assert.deepEqual(await blobs().mount(repo, digest, from, actor), { mounted: true, digest });
      assert.equal((await engine.index.getBlobLink(repo, digest))?.size, 1_000);
      assert.deepEqual(engine.events.at(-1), { type: 'blob.mounted', repository: repo, digest, from, actor });
      assert.deepEqual(engine.gate.checks.at(-1), { repository: repo, actor, sizeDelta: 0, operation: 'upload' }, 'a mount goes through the gate');

      // named a repository without it: a normal upload session, nothing said about where the blob is
      const elsewhere = repositoryName();
      const refused = await blobs().mount(elsewhere, digest, repositoryName(), actor);
      if (refused.mounted) assert.fail('mounted from a repository that does not hold the blob');
      assert.equal(refused.upload.size, 0);
      assert.equal(await engine.index.getBlobLink(elsewhere, digest), undefined);
    });

    it('mounts without `from` only from a repository the caller may read', async () => {
      const holder = repositoryName();
      const digest = await push(holder, randomBytes(1_000));
      const asked: string[] = [];
      const noOne = async (repository: string) => {
        asked.push(repository);
        return false;
      };
      const repo = repositoryName();
      assert.equal((await blobs().mount(repo, digest, undefined, actor, noOne)).mounted, false);
      assert.ok(asked.includes(holder), 'the holder was asked about');
      assert.equal(await engine.index.getBlobLink(repo, digest), undefined);
      assert.deepEqual(await blobs().mount(repo, digest, '', actor, async (r) => r === holder), { mounted: true, digest });
    });

    it('deletes a blob from one repository only; the bytes stay for the others', async () => {
      const [a, b] = [repositoryName(), repositoryName()];
      const bytes = randomBytes(2_000);
      const digest = await push(a, bytes);
      await push(b, bytes);
      await blobs().delete(a, digest, actor);
      await assert.rejects(blobs().stat(a, digest), oci('BLOB_UNKNOWN'));
      assert.equal((await blobs().stat(b, digest)).size, 2_000);
      assert.equal(await engine.store.stat(digest), 2_000, 'reclaiming bytes is the collector’s job');
      await assert.rejects(blobs().delete(a, digest, actor), oci('BLOB_UNKNOWN', 404));
      assert.deepEqual(engine.events.at(-1), { type: 'blob.deleted', repository: a, digest, actor });
    });
  });
}
