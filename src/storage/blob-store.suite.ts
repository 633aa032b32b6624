import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { makeDigest, type Digest } from '../oci/digest.js';
import { BlobNotFound, UploadNotFound, type BlobStore } from './blob-store.js';

/** The one suite every BlobStore driver runs (memory, filesystem, S3); `options.skip` says why not. */
export function blobStoreSuite(
  name: string,
  create: () => Promise<{ store: BlobStore; cleanup?: () => Promise<void> }>,
  options: { skip?: string } = {},
): void {
  describe(`BlobStore: ${name}`, options, () => {
    const withStore = (test: (store: BlobStore) => Promise<void>) => async () => {
      const { store, cleanup } = await create();
      try {
        await test(store);
      } finally {
        await store.close?.();
        await cleanup?.();
      }
    };

    it('appends chunks, commits under the digest and reads back whole and by range', withStore(async (store) => {
      await store.createUpload('u1');
      assert.equal(await store.append('u1', 0, body('hello ')), 6);
      assert.equal(await store.append('u1', 6, body('world')), 11);
      const digest = sha256('hello world');
      assert.equal(await store.stat(digest), undefined, 'nothing is visible before commit');
      await store.commit('u1', digest, 11);
      assert.equal(await store.stat(digest), 11);
      assert.equal(await text(await store.read(digest)), 'hello world');
      assert.equal(await text(await store.read(digest, { start: 6, end: 10 })), 'world');
      assert.equal(await text(await store.read(digest, { start: 0, end: 0 })), 'h');
    }));

    it('discards bytes past the offset left by an interrupted append', withStore(async (store) => {
      await store.createUpload('u2');
      await store.append('u2', 0, body('abc'));
      await assert.rejects(store.append('u2', 3, failingBody('garbage')));
      assert.equal(await store.append('u2', 3, body('def')), 6);
      const digest = sha256('abcdef');
      await store.commit('u2', digest, 6);
      assert.equal(await text(await store.read(digest)), 'abcdef');
    }));

    it('commits only the verified size and never replaces an existing blob', withStore(async (store) => {
      const digest = sha256('hello');
      await store.createUpload('t1');
      await store.append('t1', 0, body('hello'));
      await assert.rejects(store.append('t1', 5, failingBody('EVIL')));
      await store.commit('t1', digest, 5);
      assert.equal(await text(await store.read(digest)), 'hello', 'bytes of a failed append are not committed');
      await store.createUpload('t2');
      await store.append('t2', 0, body('hello'));
      await store.commit('t2', digest, 5);
      assert.equal(await store.stat(digest), 5);
      const ids = [];
      for await (const u of store.listUploads()) ids.push(u.uploadId);
      assert.deepEqual(ids, [], 'a commit of an existing blob removes the upload');
    }));

    it('writes a blob or a range straight into a destination when it can', withStore(async (store) => {
      if (!store.writeTo) return;
      const content = Buffer.alloc(3 * 1024 * 1024 + 5);
      for (let i = 0; i < content.length; i++) content[i] = i % 251;
      const digest = makeDigest('sha256', createHash('sha256').update(content).digest('hex'));
      await store.createUpload('w1');
      await store.append('w1', 0, Readable.from([content]));
      await store.commit('w1', digest, content.length);
      const collect = async (range: { start: number; end: number }) => {
        const chunks: Buffer[] = [];
        let opened = 0;
        const sink = new PassThrough();
        sink.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
        await store.writeTo!(digest, range, sink, () => opened++);
        assert.equal(opened, 1);
        return Buffer.concat(chunks);
      };
      assert.deepEqual(await collect({ start: 0, end: content.length - 1 }), content, 'buffers are reused only once written');
      assert.deepEqual(await collect({ start: 1024 * 1024 - 3, end: 2 * 1024 * 1024 + 7 }), content.subarray(1024 * 1024 - 3, 2 * 1024 * 1024 + 8));
      await assert.rejects(store.writeTo(sha256('absent'), { start: 0, end: 0 }, new PassThrough(), () => assert.fail('not opened')), BlobNotFound);
    }));

    it('reads an unfinished upload back when it can', withStore(async (store) => {
      if (!store.readUpload) return;
      await store.createUpload('u3');
      await store.append('u3', 0, body('partial'));
      assert.equal(await text(await store.readUpload('u3', 4)), 'part');
      assert.equal(await text(await store.readUpload('u3', 0)), '');
    }));

    it('aborts uploads and lists the ones it holds', withStore(async (store) => {
      await store.createUpload('u4');
      await store.createUpload('u5');
      const ids = [];
      for await (const u of store.listUploads()) ids.push(u.uploadId);
      assert.deepEqual(ids.sort(), ['u4', 'u5']);
      await store.abortUpload('u4');
      await assert.rejects(store.append('u4', 0, body('x')), UploadNotFound);
      await store.abortUpload('u4'); // idempotent
    }));

    it('commits the same content twice without harm and deletes', withStore(async (store) => {
      const digest = sha256('same');
      for (const id of ['u6', 'u7']) {
        await store.createUpload(id);
        await store.append(id, 0, body('same'));
        await store.commit(id, digest, 4);
      }
      assert.equal(await store.stat(digest), 4);
      await store.delete(digest);
      assert.equal(await store.stat(digest), undefined);
      await assert.rejects(store.read(digest), BlobNotFound);
    }));

    it('lists its committed blobs with their sizes and when they were written, never an upload', withStore(async (store) => {
      assert.ok(store.listBlobs, 'every driver here lists its blobs');
      const before = Date.now() - 60_000;
      const blobs = ['one', 'two!', ''].map((content) => ({ content, digest: sha256(content) }));
      for (const [i, blob] of blobs.entries()) {
        await store.createUpload(`l${i}`);
        await store.append(`l${i}`, 0, body(blob.content));
        await store.commit(`l${i}`, blob.digest, blob.content.length);
      }
      await store.createUpload('l-open');
      await store.append('l-open', 0, body('pending'));
      const listed = [];
      for await (const blob of store.listBlobs()) listed.push(blob);
      listed.sort((a, b) => a.digest.localeCompare(b.digest));
      assert.deepEqual(
        listed.map((b) => [b.digest, b.size]),
        blobs.map((b) => [b.digest, b.content.length]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      // the store's clock (S3: the server's) is near this one
      for (const blob of listed) assert.ok(blob.modifiedAt > before && blob.modifiedAt < Date.now() + 60_000, `${blob.modifiedAt}`);
      await store.delete(blobs[0]!.digest);
      const after = [];
      for await (const blob of store.listBlobs()) after.push(blob.digest);
      assert.deepEqual(after.sort(), [blobs[1]!.digest, blobs[2]!.digest].sort());
    }));

    it('reads an unfinished upload back across chunks, cut at any length', withStore(async (store) => {
      if (!store.readUpload) return;
      await store.createUpload('r1');
      let offset = 0;
      for (const part of ['one ', 'two ', 'three']) offset = await store.append('r1', offset, body(part));
      assert.equal(await text(await store.readUpload('r1', offset)), 'one two three');
      assert.equal(await text(await store.readUpload('r1', 6)), 'one tw');
      assert.equal(await text(await store.readUpload('r1', 8)), 'one two ');
      await assert.rejects(store.readUpload('absent', 0), UploadNotFound);
    }));

    it('commits nothing for an upload that is gone', withStore(async (store) => {
      await store.createUpload('g1');
      await store.append('g1', 0, body('gone'));
      await store.abortUpload('g1');
      await assert.rejects(store.commit('g1', sha256('gone'), 4), UploadNotFound);
      assert.equal(await store.stat(sha256('gone')), undefined);
    }));

    it('commits an empty blob', withStore(async (store) => {
      const digest = sha256('');
      await store.createUpload('e1');
      assert.equal(await store.append('e1', 0, body('')), 0);
      await store.commit('e1', digest, 0);
      assert.equal(await store.stat(digest), 0);
      assert.equal(await text(await store.read(digest)), '');
    }));

    it('passes its own check when usable', withStore(async (store) => {
      await store.check?.();
    }));

    it('refuses upload ids that could escape its namespace', withStore(async (store) => {
      await assert.rejects(store.createUpload('../evil'), UploadNotFound);
      await assert.rejects(store.append('a/b', 0, body('x')), UploadNotFound);
    }));

    it('streams a large upload in many chunks', withStore(async (store) => {
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const hash = createHash('sha256');
      await store.createUpload('big');
      let offset = 0;
      for (let i = 0; i < 8; i++) {
        hash.update(chunk);
        offset = await store.append('big', offset, Readable.from([chunk]));
      }
      const digest = makeDigest('sha256', hash.digest('hex'));
      await store.commit('big', digest, 8 * 1024 * 1024);
      assert.equal(await store.stat(digest), 8 * 1024 * 1024);
    }));
  });
}

function body(value: string): Readable {
  return Readable.from([Buffer.from(value)]);
}

function failingBody(value: string): Readable {
  return new Readable({
    read() {
      this.push(Buffer.from(value));
      this.destroy(new Error('client went away'));
    },
  });
}

function sha256(value: string): Digest {
  return makeDigest('sha256', createHash('sha256').update(value).digest('hex'));
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}
