// The S3 driver against a real S3 server (Swift's s3api by default: scripts/start-swift.sh,
// or PIER_TEST_S3_URL): the shared BlobStore suite, then what only segments and server-side
// copies can get wrong. Without a server the file is skipped, except under CI=true.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { openTestS3Store, skipUnlessS3 } from '../../../test/support/s3.js';
import { openSqlite } from '../../metadata/database.js';
import { RegistryIndex } from '../../metadata/registry-index.js';
import { makeDigest, type Digest } from '../../oci/digest.js';
import { Registry } from '../../registry/registry.js';
import { UploadNotFound, type BlobStore } from '../blob-store.js';
import { blobStoreSuite } from '../blob-store.suite.js';
import { createS3Client, listMultipartUploads, listObjects } from './client.js';
import { createS3Store } from './store.js';
import type { S3Settings } from '../storage-url.js';

const MiB = 1024 * 1024;
const skip = await skipUnlessS3();

blobStoreSuite('s3', () => openTestS3Store(), skip);

/** Deterministic bytes that differ at every offset of a few MiB (so a misplaced range shows). */
function bytes(length: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed + (i >> 12)) & 0xff;
  return out;
}

function digestOf(data: Buffer): Digest {
  return makeDigest('sha256', createHash('sha256').update(data).digest('hex'));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A body that sends `length` bytes in 1 MiB chunks, then fails as a client that went away. */
function failingAfter(data: Buffer): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= data.length) return void this.destroy(new Error('client went away'));
      const chunk = data.subarray(sent, sent + MiB);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

describe('S3 store: segments and server-side commits', { ...skip, timeout: 5 * 60_000 }, () => {
  const withStore =
    (test: (store: BlobStore, inspect: Inspector) => Promise<void>, params: Record<string, string> = { partSize: '5MiB' }) =>
    async () => {
      const { store, settings, cleanup } = await openTestS3Store(params);
      const inspect = new Inspector(settings);
      try {
        await test(store, inspect);
      } finally {
        await store.close?.();
        inspect.close();
        await cleanup();
      }
    };

  it('merges small chunks into segments of at least 5 MiB and commits them by multipart copy', withStore(async (store, inspect) => {
    const content = bytes(12 * MiB);
    await store.createUpload('twelve');
    let offset = 0;
    for (let i = 0; i < 12; i++) offset = await store.append('twelve', offset, Readable.from([content.subarray(i * MiB, (i + 1) * MiB)]));
    assert.equal(offset, 12 * MiB);
    assert.deepEqual(await inspect.segments('twelve'), [
      [0, 5 * MiB],
      [5 * MiB, 5 * MiB],
      [10 * MiB, 2 * MiB],
    ]);
    const digest = digestOf(content);
    await store.commit('twelve', digest, content.length);
    assert.deepEqual(await collect(await store.read(digest)), content);
    assert.deepEqual(await inspect.segments('twelve'), [], 'the segments are gone');
  }));

  it('streams a blob larger than the part size and reads ranges across parts', withStore(async (store) => {
    const content = bytes(13 * MiB + 17, 3);
    await store.createUpload('large');
    const chunks = Array.from({ length: 14 }, (_, i) => content.subarray(i * MiB, (i + 1) * MiB));
    assert.equal(await store.append('large', 0, Readable.from(chunks)), content.length);
    const digest = digestOf(content);
    await store.commit('large', digest, content.length);
    assert.equal(await store.stat(digest), content.length);
    assert.deepEqual(await collect(await store.read(digest)), content);
    const range = { start: 5 * MiB - 10, end: 10 * MiB + 10 };
    assert.deepEqual(await collect(await store.read(digest, range)), content.subarray(range.start, range.end + 1));
  }));

  it('composes a blob from several segments of 5 MiB and more', withStore(async (store, inspect) => {
    const content = bytes(6 * MiB + 5 * MiB + 123, 5);
    await store.createUpload('several');
    await store.append('several', 0, Readable.from([content.subarray(0, 6 * MiB)]));
    await store.append('several', 6 * MiB, Readable.from([content.subarray(6 * MiB, 11 * MiB)]));
    await store.append('several', 11 * MiB, Readable.from([content.subarray(11 * MiB)]));
    assert.deepEqual(await inspect.segments('several'), [
      [0, 6 * MiB],
      [6 * MiB, 5 * MiB],
      [11 * MiB, 123],
    ]);
    const digest = digestOf(content);
    await store.commit('several', digest, content.length);
    assert.deepEqual(await collect(await store.read(digest)), content);
  }));

  it('leaves an upload as it was when an append fails mid-way, and a retry succeeds', withStore(async (store, inspect) => {
    const content = bytes(20 * MiB, 9);
    await store.createUpload('broken');
    assert.equal(await store.append('broken', 0, Readable.from([content.subarray(0, 6 * MiB)])), 6 * MiB);
    // 12 MiB then an error: two 5 MiB parts of a multipart upload were sent, and must go
    await assert.rejects(store.append('broken', 6 * MiB, failingAfter(bytes(12 * MiB, 99))), /client went away/);
    assert.deepEqual(await inspect.segments('broken'), [[0, 6 * MiB]]);
    assert.equal(await inspect.multipartUploads(), 0, 'no multipart upload is left behind');
    assert.equal(await store.append('broken', 6 * MiB, Readable.from([content.subarray(6 * MiB, 7 * MiB)])), 7 * MiB);
    // a failed merge (the last segment is under 5 MiB) keeps the segment it would have rewritten
    await assert.rejects(store.append('broken', 7 * MiB, failingAfter(bytes(3 * MiB, 98))), /client went away/);
    assert.deepEqual(await inspect.segments('broken'), [
      [0, 6 * MiB],
      [6 * MiB, MiB],
    ]);
    assert.equal(await store.append('broken', 7 * MiB, Readable.from([content.subarray(7 * MiB)])), 20 * MiB);
    const digest = digestOf(content);
    await store.commit('broken', digest, content.length);
    assert.deepEqual(await collect(await store.read(digest)), content);
  }));

  it('rewrites bytes an append stored but the session did not accept', withStore(async (store, inspect) => {
    const content = bytes(9 * MiB, 11);
    await store.createUpload('rejected');
    await store.append('rejected', 0, Readable.from([content.subarray(0, MiB)]));
    // stored, then refused by the caller (a wrong Content-Length, say): the session stays at 1 MiB
    await store.append('rejected', MiB, Readable.from([bytes(2 * MiB, 77)]));
    assert.deepEqual(await inspect.segments('rejected'), [[0, 3 * MiB]]);
    await store.append('rejected', MiB, Readable.from([content.subarray(MiB, 6 * MiB)]));
    await store.append('rejected', 6 * MiB, Readable.from([bytes(4 * MiB, 78)])); // refused again
    assert.deepEqual(await inspect.segments('rejected'), [
      [0, 6 * MiB],
      [6 * MiB, 4 * MiB],
    ]);
    assert.equal(await store.append('rejected', 6 * MiB, Readable.from([content.subarray(6 * MiB)])), 9 * MiB);
    assert.deepEqual(await collect(await store.readUpload!('rejected', 9 * MiB)), content);
    const digest = digestOf(content);
    await store.commit('rejected', digest, content.length);
    assert.deepEqual(await collect(await store.read(digest)), content);
  }));

  it('splits an append longer than a segment may be, and retries one cut short', async () => {
    const { settings, cleanup } = await openTestS3Store({ partSize: '5MiB' });
    const store = createS3Store(settings, undefined, { maxSegmentBytes: 6 * MiB });
    const inspect = new Inspector(settings);
    try {
      const content = bytes(16 * MiB, 23);
      await store.createUpload('split');
      await store.append('split', 0, Readable.from([content.subarray(0, MiB)]));
      // the first run completes the 1 MiB segment to 6 MiB, then 6 MiB, then what is left
      await assert.rejects(store.append('split', MiB, failingAfter(content.subarray(MiB, 9 * MiB))), /client went away/);
      assert.deepEqual(await inspect.segments('split'), [[0, 6 * MiB]], 'the completed run stays, past the offset');
      const chunks = Array.from({ length: 15 }, (_, i) => content.subarray((i + 1) * MiB, (i + 2) * MiB));
      assert.equal(await store.append('split', MiB, Readable.from(chunks)), 16 * MiB);
      assert.deepEqual(await inspect.segments('split'), [
        [0, 6 * MiB],
        [6 * MiB, 6 * MiB],
        [12 * MiB, 4 * MiB],
      ]);
      const digest = digestOf(content);
      await store.commit('split', digest, content.length);
      assert.deepEqual(await collect(await store.read(digest)), content);
    } finally {
      await store.close?.();
      inspect.close();
      await cleanup();
    }
  });

  it('commits only the verified size when segments hold more', withStore(async (store) => {
    const content = bytes(12 * MiB, 13);
    for (const [id, size] of [
      ['cut-first', 3 * MiB], // inside the first segment: one ranged part
      ['cut-whole', 6 * MiB], // exactly the first segment: a plain copy
      ['cut-second', 8 * MiB], // inside the second segment
    ] as const) {
      await store.createUpload(id);
      await store.append(id, 0, Readable.from([content.subarray(0, 6 * MiB)]));
      await store.append(id, 6 * MiB, Readable.from([content.subarray(6 * MiB)]));
      const digest = digestOf(content.subarray(0, size));
      await store.commit(id, digest, size);
      assert.equal(await store.stat(digest), size, id);
      assert.deepEqual(await collect(await store.read(digest)), content.subarray(0, size), id);
    }
    await store.createUpload('short');
    await store.append('short', 0, Readable.from([content.subarray(0, MiB)]));
    await assert.rejects(store.commit('short', digestOf(content), 2 * MiB), /fewer/);
  }));

  it('reads an upload back after several appends, cut anywhere', withStore(async (store) => {
    const content = bytes(13 * MiB + 1, 17);
    const cuts = [0, MiB, 2 * MiB, 8 * MiB, 8 * MiB + 1, 12 * MiB, 13 * MiB + 1];
    await store.createUpload('reread');
    for (let i = 1; i < cuts.length; i++) {
      await store.append('reread', cuts[i - 1]!, Readable.from([content.subarray(cuts[i - 1], cuts[i])]));
    }
    for (const length of [0, 1, 5 * MiB - 1, 5 * MiB, 9 * MiB + 7, 13 * MiB + 1]) {
      assert.deepEqual(await collect(await store.readUpload!('reread', length)), content.subarray(0, length), `length ${length}`);
    }
    await assert.rejects(store.readUpload!('reread', 13 * MiB + 2), /fewer/);
  }));

  it('lists uploads with their last change and aborts them whole', withStore(async (store, inspect) => {
    const started = Date.now();
    await store.createUpload('listed-a');
    await store.createUpload('listed-b');
    await store.append('listed-b', 0, Readable.from([bytes(6 * MiB)]));
    await store.append('listed-b', 6 * MiB, Readable.from([bytes(10)]));
    const listed = [];
    for await (const upload of store.listUploads()) listed.push(upload);
    assert.deepEqual(listed.map((u) => u.uploadId), ['listed-a', 'listed-b']);
    for (const upload of listed) {
      // S3 keeps whole seconds, and the server's clock is not ours: a sanity window only
      assert.ok(Math.abs(upload.modifiedAt - started) < 5 * 60_000, `modifiedAt ${upload.modifiedAt} is near ${started}`);
    }
    await store.abortUpload('listed-b');
    assert.deepEqual(await inspect.objects('listed-b'), []);
    await assert.rejects(store.append('listed-b', 0, Readable.from([bytes(1)])), UploadNotFound);
    await assert.rejects(store.commit('listed-b', digestOf(bytes(1)), 1), UploadNotFound);
    const left = [];
    for await (const upload of store.listUploads()) left.push(upload.uploadId);
    assert.deepEqual(left, ['listed-a']);
  }));

  it('replaces a blob of the wrong size under the digest, and keeps one of the right size', withStore(async (store, inspect) => {
    const content = bytes(7 * MiB, 31);
    const digest = digestOf(content);
    await inspect.put(inspect.blobKey(digest), Buffer.from('not the blob'));
    await store.createUpload('replace');
    await store.append('replace', 0, Readable.from([content]));
    await store.commit('replace', digest, content.length);
    assert.equal(await store.stat(digest), content.length);
    assert.deepEqual(await collect(await store.read(digest)), content);

    // same size: taken for the same bytes (the digest names them), not rewritten
    const small = bytes(1000, 32);
    const planted = bytes(1000, 33);
    await inspect.put(inspect.blobKey(digestOf(small)), planted);
    await store.createUpload('kept');
    await store.append('kept', 0, Readable.from([small]));
    await store.commit('kept', digestOf(small), small.length);
    assert.deepEqual(await collect(await store.read(digestOf(small))), planted);
    assert.deepEqual(await inspect.objects('kept'), [], 'the upload is gone either way');
  }));

  it('aborts the multipart uploads left under its prefix before a time, and no others', withStore(async (store, inspect) => {
    // what a replica killed during an append, or during the compose of a commit, leaves behind
    const append = await inspect.startMultipart(`${inspect.root}/_uploads/killed/0000000000000000`, true);
    const compose = await inspect.startMultipart(inspect.blobKey(digestOf(bytes(10))), false);
    const elsewhere = await inspect.startMultipart(`${inspect.root}-elsewhere/_uploads/x/0000000000000000`, false);
    try {
      await sleep(1_500); // S3 may keep whole seconds
      const recent = await inspect.startMultipart(`${inspect.root}/_uploads/recent/0000000000000000`, false);
      const started = await inspect.initiated();
      const cut = started.get(recent)!;
      assert.ok(started.get(append)! < cut && started.get(compose)! < cut, [...started.values()].join(' '));

      assert.equal(await store.sweepIncomplete!(cut), 2);
      assert.deepEqual([...(await inspect.initiated()).keys()], [recent], 'the recent one stays');
      assert.equal(await store.sweepIncomplete!(cut), 0);
      assert.equal(await store.sweepIncomplete!(Date.now() + 60_000), 1);
      assert.equal(await inspect.multipartUploads(), 0);
      assert.ok((await inspect.initiated(`${inspect.root}-elsewhere/`)).has(elsewhere), 'another prefix is not touched');
    } finally {
      await inspect.abortMultipart(`${inspect.root}-elsewhere/`);
    }
  }));

  it('has the upload sweep abort multipart uploads a day old, whatever the TTL', withStore(async (store, inspect) => {
    const database = await openSqlite({ path: ':memory:' });
    try {
      let now = Date.now();
      const registry = new Registry({ index: new RegistryIndex(database.db), store, clock: { now: () => now }, uploadTtlMs: 3_600_000 });
      await inspect.startMultipart(`${inspect.root}/_uploads/killed/0000000000000000`, true);
      now += 2 * 3_600_000; // past the TTL: a request can still be streaming into it
      assert.equal(await registry.uploads.sweepExpired(), 0);
      assert.equal(await inspect.multipartUploads(), 1);
      now += 23 * 3_600_000;
      assert.equal(await registry.uploads.sweepExpired(), 1);
      assert.equal(await inspect.multipartUploads(), 0);
    } finally {
      await database.close();
    }
  }));

  it('signs URLs a plain HTTP client can fetch, whole or by range', withStore(async (store) => {
    const content = bytes(6 * MiB + 3, 21);
    const digest = digestOf(content);
    await store.createUpload('signed');
    await store.append('signed', 0, Readable.from([content]));
    await store.commit('signed', digest, content.length);
    const url = await store.redirectUrl!(digest);
    assert.ok(url, 'a redirecting store signs a URL');
    const whole = await fetch(url);
    assert.equal(whole.status, 200);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), content);
    const ranged = await fetch(url, { headers: { range: 'bytes=5242870-5242889' } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), content.subarray(5242870, 5242890));
  }, { redirect: 'true', presignTtl: '5m' }));

  it('redirects only when asked to', withStore(async (store) => {
    assert.equal(store.redirectUrl, undefined);
  }));

  it('says clearly when the bucket is missing, the credentials are wrong or the server is down', withStore(async (_store, inspect) => {
    const missing = { ...inspect.settings, bucket: 'pier-no-such-bucket' };
    const absent = createS3Store(missing);
    await assert.rejects(absent.check!(), /S3 bucket "pier-no-such-bucket" at .* does not exist/);
    await absent.close?.();

    const wrongKey = new S3Client({
      region: inspect.settings.region,
      endpoint: inspect.settings.endpoint,
      forcePathStyle: inspect.settings.forcePathStyle,
      credentials: { accessKeyId: 'test:tester', secretAccessKey: 'not-the-secret' },
    });
    await assert.rejects(createS3Store(inspect.settings, wrongKey).check!(), /access denied \(HTTP 403\)/);
    wrongKey.destroy();

    const down = createS3Store({ ...inspect.settings, endpoint: 'http://127.0.0.1:9' });
    await assert.rejects(down.check!(), /at http:\/\/127\.0\.0\.1:9 is unreachable: ECONNREFUSED/);
    await down.close?.();
  }));
});

/** Looks at the bucket behind the store's back. */
class Inspector {
  private readonly client: S3Client;

  constructor(readonly settings: S3Settings) {
    this.client = createS3Client(settings);
  }

  private prefixOf(uploadId: string): string {
    return `${this.settings.prefix}/_uploads/${uploadId}/`;
  }

  async objects(uploadId: string): Promise<Array<[string, number]>> {
    const found: Array<[string, number]> = [];
    for await (const o of listObjects(this.client, this.settings.bucket, this.prefixOf(uploadId))) {
      found.push([o.Key.slice(this.prefixOf(uploadId).length), o.Size ?? 0]);
    }
    return found;
  }

  /** [start, size] of each segment */
  async segments(uploadId: string): Promise<Array<[number, number]>> {
    return (await this.objects(uploadId)).filter(([name]) => /^\d+(\.\d+)?$/.test(name)).map(([name, size]) => [Number(name.split('.')[0]), size]);
  }

  /** the store's prefix, without the trailing slash */
  get root(): string {
    return this.settings.prefix;
  }

  blobKey(digest: Digest): string {
    const hex = digest.slice('sha256:'.length);
    return `${this.settings.prefix}/blobs/sha256/${hex.slice(0, 2)}/${hex}`;
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body }));
  }

  /** Starts a multipart upload as an append or a compose does, with a first part if asked; resolves to its id. */
  async startMultipart(key: string, withPart: boolean): Promise<string> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.settings.bucket, Key: key }));
    if (withPart) {
      await this.client.send(new UploadPartCommand({ Bucket: this.settings.bucket, Key: key, UploadId, PartNumber: 1, Body: bytes(5 * MiB) }));
    }
    return UploadId!;
  }

  /** When each multipart upload under the prefix (the store's by default) started, by id. */
  async initiated(prefix = `${this.settings.prefix}/`): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for await (const upload of listMultipartUploads(this.client, this.settings.bucket, prefix)) found.set(upload.UploadId, upload.Initiated!.getTime());
    return found;
  }

  async abortMultipart(prefix: string): Promise<void> {
    for await (const upload of listMultipartUploads(this.client, this.settings.bucket, prefix)) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: upload.Key, UploadId: upload.UploadId }));
    }
  }

  async multipartUploads(): Promise<number> {
    const listed = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: `${this.settings.prefix}/` }));
    return listed.Uploads?.length ?? 0;
  }

  close(): void {
    this.client.destroy();
  }
}
