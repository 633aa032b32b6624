// The upload service itself, without HTTP: sessions over a real RegistryIndex (SQLite and
// PostgreSQL) and a real BlobStore (memory and filesystem). Claims, resumption on another replica,
// digests checked before anything is visible, and the push gate's allowance.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { makeDigest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { body, engineSetups, repositoryName, sha256, type Engine } from './engine.testing.js';

const actor = { account: 'alice' };

/** An OciError with this code (and status, message), for assert.rejects. */
const oci = (code: string, options: { status?: number; message?: RegExp } = {}) => (error: unknown) => {
  assert.ok(error instanceof OciError, `expected OciError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (options.status !== undefined) assert.equal(error.status, options.status);
  if (options.message) assert.match(error.message, options.message);
  return true;
};

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function storedUploads(store: BlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const upload of store.listUploads()) ids.push(upload.uploadId);
  return ids;
}

/** The same store, unable to read unfinished uploads back (S3 cannot, for one). */
function withoutReadUpload(store: BlobStore): BlobStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'readUpload') return undefined;
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** What a promise rejects with (it must reject). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

/** Resolves once `predicate` holds (polled): for steps that another request takes asynchronously. */
async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting until ${what}`);
}

for (const setup of await engineSetups()) {
  describe(`UploadService (${setup.name})`, setup.options, () => {
    let engine: Engine;
    before(async () => {
      engine = await setup.open();
    });
    after(() => engine?.close());

    const uploads = () => engine.registry.uploads;
    /** gate checks of one repository, without the repository */
    const checksOf = (repository: string) => engine.gate.checks.filter((c) => c.repository === repository).map(({ repository: _, ...rest }) => rest);

    it('streams chunks in order, keeps the digest so far with the session, and commits on the final PUT', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(300_000);
      const [first, second] = [bytes.subarray(0, 100_000), bytes.subarray(100_000)];
      const { uploadId, size } = await uploads().start(repo, actor);
      assert.equal(size, 0);
      assert.deepEqual(await uploads().append(repo, uploadId, body(first), { range: { start: 0, end: 99_999 }, length: 100_000 }), {
        uploadId,
        repository: repo,
        size: 100_000,
      });
      assert.equal((await engine.index.getUpload(uploadId))?.sha256, createHash('sha256').update(first).digest('hex'), 'the digest of the bytes so far');
      await uploads().append(repo, uploadId, body(second), { length: second.length }); // no Content-Range: appended where it is
      assert.equal((await uploads().status(repo, uploadId)).size, 300_000);
      assert.equal(await engine.store.stat(sha256(bytes)), undefined, 'nothing visible before the final PUT');

      const digest = sha256(bytes);
      assert.deepEqual(await uploads().complete(repo, uploadId, digest, undefined, {}, actor), { digest, size: 300_000 });
      assert.deepEqual(await engine.index.getBlobLink(repo, digest), { size: 300_000, lastSeenAt: engine.clock.now() });
      assert.deepEqual(await readAll(await engine.store.read(digest)), bytes);
      await assert.rejects(uploads().status(repo, uploadId), oci('BLOB_UPLOAD_UNKNOWN', { status: 404 }));
      assert.ok(!(await storedUploads(engine.store)).includes(uploadId), 'the upload is gone from the store');
      assert.deepEqual(
        engine.events.filter((e) => e.repository === repo),
        [{ type: 'blob.uploaded', repository: repo, digest, size: 300_000, actor }],
      );
      // the gate saw the start (with the actor) and each chunk (with the bytes the session held,
      // and what it counts as its own: those and the chunk's declared length)
      assert.deepEqual(checksOf(repo), [
        { actor, sizeDelta: 0, operation: 'upload', held: 0 },
        { actor: {}, sizeDelta: 0, operation: 'chunk', held: 100_000 },
        { actor: {}, sizeDelta: 100_000, operation: 'chunk', held: 300_000 },
      ]);
    });

    it('completes a bodyless final PUT on another replica from the digest kept with the session, rereading nothing', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(70_000);
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(bytes), { length: bytes.length });
      const other = engine.replica({ store: withoutReadUpload(engine.store) });
      const digest = sha256(bytes);
      assert.deepEqual(await other.uploads.complete(repo, uploadId, digest, undefined, {}, actor), { digest, size: 70_000 });
      assert.deepEqual(await readAll(await engine.store.read(digest)), bytes);
    });

    it('continues a chunk on another replica by rereading the upload, and refuses where the store cannot reread', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(90_000);
      const parts = [bytes.subarray(0, 30_000), bytes.subarray(30_000, 60_000), bytes.subarray(60_000)];
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(parts[0]!), {});

      const blind = engine.replica({ store: withoutReadUpload(engine.store) });
      await assert.rejects(blind.uploads.append(repo, uploadId, body(parts[1]!), {}), oci('BLOB_UPLOAD_INVALID', { message: /cannot be resumed here/ }));
      assert.equal((await uploads().status(repo, uploadId)).size, 30_000, 'the refused chunk left the session where it was');

      const other = engine.replica();
      await other.uploads.append(repo, uploadId, body(parts[1]!), { range: { start: 30_000, end: 59_999 } });
      // and back on the first replica, whose hash in memory is now stale
      await uploads().append(repo, uploadId, body(parts[2]!), { range: { start: 60_000, end: 89_999 } });
      const digest = sha256(bytes);
      assert.deepEqual(await other.uploads.complete(repo, uploadId, digest, undefined, {}, actor), { digest, size: 90_000 });
      assert.deepEqual(await readAll(await engine.store.read(digest)), bytes);
    });

    it('keeps the session at the last complete chunk when a chunk breaks off, and takes the retry', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(80_000);
      const [first, second] = [bytes.subarray(0, 40_000), bytes.subarray(40_000)];
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(first), {});

      const broken = new PassThrough();
      const attempt = uploads().append(repo, uploadId, broken, { range: { start: 40_000, end: 79_999 } });
      broken.write(second.subarray(0, 15_000));
      // break off only once the service reads the chunk (its claim can take a while on a busy
      // PostgreSQL): destroyed earlier, the error would have no listener yet
      await consumed(broken);
      broken.destroy(new Error('the client went away'));
      await assert.rejects(attempt, /the client went away/);
      assert.equal((await uploads().status(repo, uploadId)).size, 40_000);

      // the retry of that chunk
      await uploads().append(repo, uploadId, body(second), { range: { start: 40_000, end: 79_999 } });
      const digest = sha256(bytes);
      assert.deepEqual(await uploads().complete(repo, uploadId, digest, undefined, {}, actor), { digest, size: 80_000 });
      assert.deepEqual(await readAll(await engine.store.read(digest)), bytes, 'no byte of the broken chunk survived');
    });

    it('refuses a chunk that does not start where the upload is (416), or whose length disagrees with its headers', async () => {
      const repo = repositoryName();
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(Buffer.from('0123456789')), {});
      const outOfOrder = await rejection(uploads().append(repo, uploadId, body(Buffer.from('x')), { range: { start: 5, end: 5 } }));
      oci('RANGE_INVALID', { status: 416, message: /starts at 5, the upload is at 10/ })(outOfOrder);
      assert.deepEqual((outOfOrder as OciError).detail, { size: 10 }, 'the error says where the upload is');
      await assert.rejects(uploads().append(repo, uploadId, body(Buffer.from('abcdef')), { length: 4 }), oci('SIZE_INVALID', { message: /received 6 bytes, Content-Length said 4/ }));
      await assert.rejects(uploads().append(repo, uploadId, body(Buffer.from('abcdef')), { range: { start: 10, end: 13 } }), oci('SIZE_INVALID'));
      assert.equal((await uploads().status(repo, uploadId)).size, 10, 'refused chunks leave the session where it was');
      await uploads().append(repo, uploadId, body(Buffer.from('abcdef')), { range: { start: 10, end: 15 }, length: 6 });
      const digest = sha256('0123456789abcdef');
      assert.deepEqual(await uploads().complete(repo, uploadId, digest, undefined, {}, actor), { digest, size: 16 });
    });

    it('discards the upload when the final digest does not match, and wants a digest to finish', async () => {
      const repo = repositoryName();
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(Buffer.from('some bytes')), {});
      await assert.rejects(uploads().complete(repo, uploadId, undefined, undefined, {}, actor), oci('DIGEST_INVALID', { message: /required/ }));
      await assert.rejects(uploads().complete(repo, uploadId, 'sha256:nope', undefined, {}, actor), oci('DIGEST_INVALID'));
      assert.equal((await uploads().status(repo, uploadId)).size, 10, 'a missing or malformed digest changes nothing');

      const wrong = sha256('other bytes');
      await assert.rejects(uploads().complete(repo, uploadId, wrong, undefined, {}, actor), oci('DIGEST_INVALID', { status: 400, message: /does not match/ }));
      await assert.rejects(uploads().status(repo, uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
      assert.equal(await engine.index.getBlobLink(repo, wrong), undefined);
      assert.equal(await engine.store.stat(wrong), undefined);
      assert.ok(!(await storedUploads(engine.store)).includes(uploadId));
    });

    it('checks a sha512 digest by rereading the upload', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(5_000);
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(bytes), {});
      const digest = makeDigest('sha512', createHash('sha512').update(bytes).digest('hex'));
      assert.deepEqual(await uploads().complete(repo, uploadId, digest, undefined, {}, actor), { digest, size: 5_000 });
      assert.deepEqual(await readAll(await engine.store.read(digest)), bytes);
    });

    it('stores a monolithic upload only once its digest and length were checked', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(20_000);
      const before = (await storedUploads(engine.store)).length;
      await assert.rejects(uploads().monolithic(repo, sha256('else'), body(bytes), { length: 20_000 }, actor), oci('DIGEST_INVALID'));
      await assert.rejects(uploads().monolithic(repo, sha256(bytes), body(bytes), { length: 19_999 }, actor), oci('SIZE_INVALID'));
      assert.equal(await engine.store.stat(sha256(bytes)), undefined);
      assert.equal(await engine.index.getBlobLink(repo, sha256(bytes)), undefined);
      assert.equal((await storedUploads(engine.store)).length, before, 'refused uploads leave nothing in the store');

      assert.deepEqual(await uploads().monolithic(repo, sha256(bytes), body(bytes), { length: 20_000 }, actor), { digest: sha256(bytes), size: 20_000 });
      assert.equal((await engine.index.getBlobLink(repo, sha256(bytes)))?.size, 20_000);
      assert.equal((await storedUploads(engine.store)).length, before);
    });

    it('lets one writer at a time hold a session: another request gets 409 while a chunk streams', async () => {
      const repo = repositoryName();
      const { uploadId } = await uploads().start(repo, actor);
      const slow = new PassThrough();
      const writing = uploads().append(repo, uploadId, slow, {});
      slow.write(Buffer.alloc(1_000, 1));
      await until(() => checksOf(repo).some((c) => c.operation === 'chunk'), 'the first writer holds the claim');

      const busy = oci('BLOB_UPLOAD_INVALID', { status: 409, message: /another request is writing/ });
      await assert.rejects(uploads().append(repo, uploadId, body(Buffer.alloc(10)), {}), busy);
      await assert.rejects(engine.replica().uploads.append(repo, uploadId, body(Buffer.alloc(10)), {}), busy);
      await assert.rejects(uploads().complete(repo, uploadId, sha256(Buffer.alloc(1_000, 1)), undefined, {}, actor), busy);

      slow.end(Buffer.alloc(1_000, 2));
      assert.equal((await writing).size, 2_000);
      const bytes = Buffer.concat([Buffer.alloc(1_000, 1), Buffer.alloc(1_000, 2)]);
      assert.deepEqual(await uploads().complete(repo, uploadId, sha256(bytes), undefined, {}, actor), { digest: sha256(bytes), size: 2_000 });
    });

    it('takes a session over from a writer whose claim expired; that writer then records nothing (409)', async () => {
      const repo = repositoryName();
      const { uploadId } = await uploads().start(repo, actor);
      const stalled = new PassThrough();
      const stale = uploads().append(repo, uploadId, stalled, {});
      stalled.write(Buffer.alloc(500, 7));
      await until(() => checksOf(repo).some((c) => c.operation === 'chunk'), 'the first writer holds the claim');
      await until(async () => (await readAll(await engine.store.readUpload!(uploadId, 500))).length === 500, 'its first bytes are stored');

      // a minute and more without renewal (the writer stalled): its claim is over
      engine.clock.advance(61_000);
      const bytes = randomBytes(3_000);
      const other = engine.replica();
      assert.equal((await other.uploads.append(repo, uploadId, body(bytes), { range: { start: 0, end: 2_999 } })).size, 3_000);

      stalled.end(Buffer.alloc(500, 8));
      await assert.rejects(stale, oci('BLOB_UPLOAD_INVALID', { status: 409, message: /took the upload over/ }));
      assert.equal((await uploads().status(repo, uploadId)).size, 3_000, 'the session is what the new holder wrote');
      assert.deepEqual(await other.uploads.complete(repo, uploadId, sha256(bytes), undefined, {}, actor), { digest: sha256(bytes), size: 3_000 });
      assert.deepEqual(await readAll(await engine.store.read(sha256(bytes))), bytes);
    });

    it("stops a monolithic upload and a session's chunks at the gate's allowance, with its message", async () => {
      const repo = repositoryName();
      const refusal = 'the test plan leaves 1000 bytes';
      engine.gate.answer = (check) => (check.repository === repo ? { maxBytes: 1_000, refusal } : undefined);
      try {
        const denied = oci('DENIED', { status: 403, message: new RegExp(refusal) });
        const big = randomBytes(2_000);
        const before = (await storedUploads(engine.store)).length;
        // declared too large: refused before a byte is stored; or stopped where the stream crosses the line
        await assert.rejects(uploads().monolithic(repo, sha256(big), body(big), { length: 2_000 }, actor), denied);
        await assert.rejects(uploads().monolithic(repo, sha256(big), body(big, 100), {}, actor), denied);
        assert.equal(await engine.store.stat(sha256(big)), undefined);
        assert.equal((await storedUploads(engine.store)).length, before, 'nothing left in the store');
        const small = randomBytes(800);
        await uploads().monolithic(repo, sha256(small), body(small), { length: 800 }, actor);

        // a session: the allowance counts the bytes it holds already
        const declared = await uploads().start(repo, actor);
        await uploads().append(repo, declared.uploadId, body(randomBytes(600)), {});
        await assert.rejects(uploads().append(repo, declared.uploadId, body(randomBytes(600)), { length: 600 }), denied);
        await assert.rejects(uploads().status(repo, declared.uploadId), oci('BLOB_UPLOAD_UNKNOWN'), 'an upload that could never complete is discarded');

        const streamed = await uploads().start(repo, actor);
        await uploads().append(repo, streamed.uploadId, body(randomBytes(600)), {});
        await assert.rejects(uploads().append(repo, streamed.uploadId, body(randomBytes(600), 50), {}), denied);
        await assert.rejects(uploads().status(repo, streamed.uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
        assert.ok(!(await storedUploads(engine.store)).includes(streamed.uploadId));

        assert.deepEqual(
          checksOf(repo).map((c) => `${c.operation} ${c.sizeDelta}/${c.held}`),
          [
            // declared: reserved, then refused (after trying again, in case parallel uploads' reservations were in the way)
            ...['upload 2000/2000', ...Array<string>(7).fill('chunk 0/2000')],
            ...['upload 0/0', 'chunk 0/1000', 'chunk 0/1100'], // streamed: reserves the room, then what it received past it, refused
            ...['upload 800/800'],
            ...['upload 0/0', 'chunk 0/0', 'chunk 0/1000'], // a session, its first chunk streamed (reserving the room)
            ...['chunk 600/1200', ...Array<string>(7).fill('chunk 600/1200')], // a second chunk declared past the room
            ...['upload 0/0', 'chunk 0/0', 'chunk 0/1000'],
            ...['chunk 600/600', 'chunk 600/1000', 'chunk 600/1050'], // a second chunk streamed past the room
          ],
          'the gate is asked with what each step adds (a monolithic upload: its Content-Length) and what the request holds',
        );
      } finally {
        engine.gate.answer = () => undefined;
      }
    });

    it('starts no session when the gate refuses', async () => {
      const repo = repositoryName();
      engine.gate.answer = (check) => {
        if (check.repository === repo) throw new OciError('DENIED', 'no pushes here');
      };
      try {
        const before = (await storedUploads(engine.store)).length;
        await assert.rejects(uploads().start(repo, actor), oci('DENIED', { message: /no pushes here/ }));
        assert.equal((await storedUploads(engine.store)).length, before);
      } finally {
        engine.gate.answer = () => undefined;
      }
    });

    it('knows a session only in its own repository, and cancels it with its bytes', async () => {
      const repo = repositoryName();
      const { uploadId } = await uploads().start(repo, actor);
      await uploads().append(repo, uploadId, body(Buffer.from('abc')), {});
      const elsewhere = repositoryName();
      await assert.rejects(uploads().status(elsewhere, uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
      await assert.rejects(uploads().append(elsewhere, uploadId, body(Buffer.from('d')), {}), oci('BLOB_UPLOAD_UNKNOWN'));
      await assert.rejects(uploads().cancel(elsewhere, uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
      await assert.rejects(uploads().complete(elsewhere, uploadId, sha256('abc'), undefined, {}, actor), oci('BLOB_UPLOAD_UNKNOWN'));

      await uploads().cancel(repo, uploadId);
      await assert.rejects(uploads().status(repo, uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
      assert.ok(!(await storedUploads(engine.store)).includes(uploadId));
      await assert.rejects(uploads().cancel(repo, uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
    });

    it('sweeps sessions idle past the TTL with their bytes, and store uploads that no session knows', async () => {
      const hour = 3_600_000;
      const sweeper = engine.replica({ uploadTtlMs: hour });
      const repo = repositoryName();
      const idle = await uploads().start(repo, actor);
      await uploads().append(repo, idle.uploadId, body(Buffer.from('idle')), {});
      engine.clock.advance(2 * hour);
      const fresh = await uploads().start(repo, actor);
      await uploads().append(repo, fresh.uploadId, body(Buffer.from('fresh')), {});
      // an upload a crash left in the store without its row (the store's own times are real ones, long before the test clock)
      const orphan = `orphan-${randomBytes(6).toString('hex')}`;
      await engine.store.createUpload(orphan);

      assert.ok((await sweeper.uploads.sweepExpired()) >= 2);
      await assert.rejects(uploads().status(repo, idle.uploadId), oci('BLOB_UPLOAD_UNKNOWN'));
      assert.equal((await uploads().status(repo, fresh.uploadId)).size, 5);
      const left = await storedUploads(engine.store);
      assert.ok(!left.includes(idle.uploadId), 'the idle session’s bytes are gone');
      assert.ok(!left.includes(orphan), 'the orphaned upload is gone');
      assert.ok(left.includes(fresh.uploadId));
    });
  });
}

/** Resolves once a reader has taken everything written to `stream` so far. */
async function consumed(stream: PassThrough): Promise<void> {
  for (let waited = 0; stream.listenerCount('error') === 0 || stream.readableLength > 0; waited += 5) {
    if (waited > 10_000) throw new Error('nobody read the chunk within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
