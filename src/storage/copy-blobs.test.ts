import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openTestS3Store, skipUnlessS3 } from '../../test/support/s3.js';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from './blob-store.js';
import { copyBlobs, forEachConcurrently, type BlobResult, type BlobToCopy } from './copy-blobs.js';
import { createFsStore } from './fs-store.js';
import { createMemoryStore } from './memory-store.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
const MiB = 1024 * 1024;

async function put(store: BlobStore, bytes: Buffer): Promise<BlobToCopy> {
  const id = randomUUID();
  await store.createUpload(id);
  await store.append(id, 0, Readable.from([bytes]));
  const digest = sha256(bytes);
  await store.commit(id, digest, bytes.length);
  return { digest, size: bytes.length };
}

async function readAll(store: BlobStore, digest: Digest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(digest)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function* each<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

/** Where the filesystem driver keeps a blob: the test changes bytes on disk behind its back. */
const pathOf = (root: string, digest: Digest) => join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));

async function uploadsLeft(store: BlobStore): Promise<number> {
  let n = 0;
  for await (const _ of store.listUploads()) n++;
  return n;
}

describe('copyBlobs: filesystem to filesystem', () => {
  let dir: string;
  let sourceRoot: string;
  let targetRoot: string;
  let source: BlobStore;
  let target: BlobStore;
  const contents: Buffer[] = [Buffer.alloc(0), Buffer.from('x'), randomBytes(MiB + 3), randomBytes(3 * MiB), randomBytes(70_000)];
  let blobs: BlobToCopy[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-copy-blobs-'));
    sourceRoot = join(dir, 'source');
    targetRoot = join(dir, 'target');
    source = createFsStore({ root: sourceRoot, fsync: false });
    target = createFsStore({ root: targetRoot, fsync: false });
    blobs = [];
    for (const bytes of contents) blobs.push(await put(source, bytes));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('streams every blob into the target, checked by digest, and counts them', async () => {
    const seen: BlobResult[] = [];
    const report = await copyBlobs({ source, target, blobs: each(blobs), concurrency: 2, onBlob: (r) => seen.push(r) });
    const bytes = contents.reduce((sum, b) => sum + b.length, 0);
    assert.deepEqual(report, { total: 5, totalBytes: bytes, copied: 5, copiedBytes: bytes, present: 0, presentBytes: 0, verified: 0, problems: [] });
    assert.deepEqual(seen.map((r) => r.outcome), ['copied', 'copied', 'copied', 'copied', 'copied']);
    for (const [i, blob] of blobs.entries()) assert.ok((await readAll(target, blob.digest)).equals(contents[i]!), `blob ${i}`);
    assert.equal(await uploadsLeft(target), 0);
  });

  it('skips on a rerun what the target holds with the right size; --verify rereads all of it', async () => {
    const report = await copyBlobs({ source, target, blobs: each(blobs), verify: true });
    assert.equal(report.copied, 0);
    assert.equal(report.present, 5);
    assert.equal(report.verified, 5);
    assert.deepEqual(report.problems, []);
  });

  it('replaces a target blob of the wrong size', async () => {
    const blob = blobs[2]!;
    await truncate(pathOf(targetRoot, blob.digest), 10);
    const report = await copyBlobs({ source, target, blobs: each([blob]) });
    assert.equal(report.copied, 1);
    assert.ok((await readAll(target, blob.digest)).equals(contents[2]!));
  });

  it('finds with --verify a target blob whose bytes changed on disk', async () => {
    const blob = blobs[4]!;
    const path = pathOf(targetRoot, blob.digest);
    const bytes = await readFile(path);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(path, bytes);
    const report = await copyBlobs({ source, target, blobs: each(blobs), verify: true });
    assert.equal(report.verified, 4);
    assert.deepEqual(
      report.problems.map((p) => [p.digest, p.outcome]),
      [[blob.digest, 'unverified']],
    );
    assert.match(report.problems[0]!.detail!, /the target holds sha256:/);
  });

  it('never copies a source blob whose bytes do not match its digest or size, and says which', async () => {
    const more = [randomBytes(5000), randomBytes(5000), randomBytes(5000), randomBytes(200)];
    const [flipped, shorter, longer, good] = await Promise.all(more.map((bytes) => put(source, bytes)));
    const flippedBytes = Buffer.from(more[0]!);
    flippedBytes[4000] = flippedBytes[4000]! ^ 1;
    await writeFile(pathOf(sourceRoot, flipped!.digest), flippedBytes);
    await truncate(pathOf(sourceRoot, shorter!.digest), 4999);
    await appendFile(pathOf(sourceRoot, longer!.digest), 'extra');
    const absent = { digest: sha256(Buffer.from('never stored')), size: 12 };

    const report = await copyBlobs({ source, target, blobs: each([flipped!, shorter!, longer!, absent, good!]) });
    assert.equal(report.copied, 1);
    const outcomes = Object.fromEntries(report.problems.map((p) => [p.digest, `${p.outcome}: ${p.detail}`]));
    assert.match(outcomes[flipped!.digest]!, /^corrupt: the source holds bytes that hash to sha256:[0-9a-f]{64}: not copied$/);
    assert.match(outcomes[shorter!.digest]!, /^corrupt: the source holds 4999 bytes instead of 5000/);
    assert.match(outcomes[longer!.digest]!, /^corrupt: the source holds more than 5000 bytes/);
    assert.match(outcomes[absent.digest]!, /^missing: /);
    for (const blob of [flipped!, shorter!, longer!, absent]) assert.equal(await target.stat(blob.digest), undefined);
    assert.ok((await readAll(target, good!.digest)).equals(more[3]!));
    assert.equal(await uploadsLeft(target), 0, 'no upload is left behind by a refused blob');
  });

  it('copies into another driver through the same port (memory)', async () => {
    const memory = createMemoryStore();
    const report = await copyBlobs({ source, target: memory, blobs: each(blobs.slice(0, 4)), verify: true });
    assert.equal(report.copied, 4);
    assert.equal(report.verified, 4);
    assert.ok((await readAll(memory, blobs[3]!.digest)).equals(contents[3]!));
  });
});

describe('copyBlobs: filesystem to S3 and back', await skipUnlessS3(), () => {
  let dir: string;
  let s3: Awaited<ReturnType<typeof openTestS3Store>>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-copy-blobs-s3-'));
    s3 = await openTestS3Store();
  });
  after(async () => {
    await s3?.cleanup();
    await s3?.store.close?.();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams blobs into S3 uploads, commits them by digest, and reads them back out', async () => {
    const disk = createFsStore({ root: join(dir, 'source'), fsync: false });
    const contents = [Buffer.alloc(0), randomBytes(1000), randomBytes(6 * MiB + 1), randomBytes(2 * MiB)];
    const blobs: BlobToCopy[] = [];
    for (const bytes of contents) blobs.push(await put(disk, bytes));
    const corrupt = await put(disk, randomBytes(4096));
    await writeFile(pathOf(join(dir, 'source'), corrupt.digest), randomBytes(4096));

    const up = await copyBlobs({ source: disk, target: s3.store, blobs: each([...blobs, corrupt]), verify: true });
    assert.equal(up.copied, 4);
    assert.equal(up.verified, 4);
    assert.deepEqual(up.problems.map((p) => [p.digest, p.outcome]), [[corrupt.digest, 'corrupt']]);
    assert.equal(await s3.store.stat(corrupt.digest), undefined);
    assert.equal(await uploadsLeft(s3.store), 0, 'the refused upload was aborted');
    const again = await copyBlobs({ source: disk, target: s3.store, blobs: each(blobs) });
    assert.deepEqual([again.copied, again.present], [0, 4]);

    const back = createFsStore({ root: join(dir, 'back'), fsync: false });
    const down = await copyBlobs({ source: s3.store, target: back, blobs: each(blobs), verify: true });
    assert.deepEqual([down.copied, down.verified, down.problems.length], [4, 4, 0]);
    for (const [i, blob] of blobs.entries()) assert.ok((await readAll(back, blob.digest)).equals(contents[i]!), `blob ${i}`);
  });
});

describe('forEachConcurrently', () => {
  it('keeps at most `limit` items in flight and reads the source no further ahead', async () => {
    let inFlight = 0;
    let most = 0;
    let pulled = 0;
    async function* items() {
      for (let i = 0; i < 20; i++) {
        pulled++;
        yield i;
      }
    }
    const done: number[] = [];
    await forEachConcurrently(items(), 3, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      assert.ok(pulled - done.length <= 3, 'never more pulled than in flight');
      await new Promise((resolve) => setImmediate(resolve));
      done.push(i);
      inFlight--;
    });
    assert.equal(most, 3);
    assert.deepEqual([...done].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  });

  it('stops and rethrows the first error of the source or of the work', async () => {
    async function* failing() {
      yield 1;
      throw new Error('the index went away');
    }
    await assert.rejects(forEachConcurrently(failing(), 4, async () => {}), /the index went away/);
    const seen: number[] = [];
    await assert.rejects(
      forEachConcurrently(each([1, 2, 3, 4, 5, 6]), 1, async (i) => {
        if (i === 3) throw new Error('three');
        seen.push(i);
      }),
      /three/,
    );
    assert.deepEqual(seen, [1, 2]);
  });
});
