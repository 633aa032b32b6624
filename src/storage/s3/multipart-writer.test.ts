// The streaming multipart writer against a real S3 server (Swift's s3api by default:
// scripts/start-swift.sh, or PIER_TEST_S3_URL). Without a server the file is skipped, except
// under CI=true.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3TestStorageUrl, skipUnlessS3 } from '../../../test/support/s3.js';
import { parseStorageUrl, type S3Settings } from '../storage-url.js';
import { createS3Client, isNotFound, listMultipartUploads } from './client.js';
import { PartBufferPool, writeObject, type WriteObjectOptions } from './multipart-writer.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const skip = await skipUnlessS3();

/** Deterministic bytes that differ at every offset of a few MiB (so a misplaced part shows). */
function bytes(length: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed + (i >> 12)) & 0xff;
  return out;
}

/** `data` in chunks of uneven sizes (none lines up with a part). */
function unevenChunks(data: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = [65_536, 1, 1_000_003, 3 * MiB + 5, 17][i % 5]!;
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return Readable.from(chunks);
}

/** A body that sends `data` in 1 MiB chunks, then fails as a client that went away. */
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

/** Remembers every distinct buffer it handed out. */
class CountingPool extends PartBufferPool {
  readonly handedOut = new Set<Buffer>();
  override take(): Buffer {
    const buffer = super.take();
    this.handedOut.add(buffer);
    return buffer;
  }
}

describe('S3 multipart writer', { ...skip, timeout: 5 * 60_000 }, () => {
  const withBucket = (test: (s3: Bucket) => Promise<void>) => async () => {
    const { url, prefix, cleanup } = await s3TestStorageUrl();
    const location = parseStorageUrl(url);
    if (location.kind !== 's3') throw new Error('unreachable');
    const s3 = new Bucket(location.settings, prefix);
    try {
      await test(s3);
    } finally {
      s3.close();
      await cleanup();
    }
  };

  it('stores the exact bytes of bodies around the part size', withBucket(async (s3) => {
    for (const [size, multipart] of [
      [0, false],
      [1, false],
      [PART - 1, false],
      [PART, false], // exactly one part: a single PUT
      [PART + 1, true],
      [3 * PART + 7, true],
    ] as const) {
      const content = bytes(size, size & 0xff);
      const key = s3.key(`size-${size}`);
      assert.equal(await s3.write(key, unevenChunks(content)), size, `size ${size}`);
      assert.deepEqual(await s3.get(key), content, `size ${size}`);
      // S3 gives a multipart object the ETag "<md5 of the parts' md5s>-<parts>"
      assert.equal(/-\d+"?$/.test((await s3.head(key)).ETag ?? ''), multipart, `size ${size}: ETag ${(await s3.head(key)).ETag}`);
    }
    assert.equal(await s3.multipartUploads(), 0);
  }));

  it('takes bodies of strings and byte arrays', withBucket(async (s3) => {
    const key = s3.key('mixed');
    const body = Readable.from(['ab', new Uint8Array([1, 2, 3]), Buffer.from('z')], { objectMode: true });
    assert.equal(await s3.write(key, body), 6);
    assert.deepEqual(await s3.get(key), Buffer.concat([Buffer.from('ab'), Buffer.from([1, 2, 3]), Buffer.from('z')]));
  }));

  it('holds at most its buffers, and the next write reuses them', withBucket(async (s3) => {
    const pool = new CountingPool(PART);
    const content = bytes(6 * PART + 3, 41);
    assert.equal(await s3.write(s3.key('first'), Readable.from([content]), { pool, buffers: 2 }), content.length);
    assert.equal(pool.handedOut.size, 2, 'two buffers for seven parts');
    assert.equal(await s3.write(s3.key('second'), unevenChunks(content), { pool, buffers: 2 }), content.length);
    assert.equal(pool.handedOut.size, 2, 'the same two buffers again');
    assert.deepEqual(await s3.get(s3.key('first')), content);
    assert.deepEqual(await s3.get(s3.key('second')), content);
  }));

  it('leaves no object and no multipart upload when the body errors', withBucket(async (s3) => {
    // 12 MiB then an error: two 5 MiB parts were sent, and must go
    for (const size of [12 * MiB, 3 * MiB, 0]) {
      const key = s3.key(`broken-${size}`);
      await assert.rejects(s3.write(key, failingAfter(bytes(size, 7))), /client went away/);
      assert.equal(await s3.exists(key), false, `size ${size}`);
    }
    assert.equal(await s3.multipartUploads(), 0, 'no multipart upload is left behind');
  }));

  it('refuses more parts than allowed, and aborts', withBucket(async (s3) => {
    const key = s3.key('too-long');
    await assert.rejects(s3.write(key, Readable.from([bytes(2 * PART + 1)]), { maxParts: 2 }), /more than 2 parts/);
    assert.equal(await s3.exists(key), false);
    assert.equal(await s3.multipartUploads(), 0);
    assert.equal(await s3.write(key, Readable.from([bytes(2 * PART)]), { maxParts: 2 }), 2 * PART, 'two full parts fit');
  }));

  it('stops reading a body whose part fails, and aborts', withBucket(async (s3) => {
    // a key longer than S3 allows (1,024 bytes): CreateMultipartUpload fails on the first part
    const key = s3.key(`x${'y'.repeat(1100)}`);
    let pulled = 0;
    const data = bytes(20 * PART);
    const body = new Readable({
      highWaterMark: MiB,
      read() {
        const chunk = data.subarray(pulled, pulled + MiB);
        pulled += chunk.length;
        this.push(chunk.length ? chunk : null);
      },
    });
    await assert.rejects(s3.write(key, body));
    assert.ok(body.destroyed, 'the body is destroyed');
    assert.ok(pulled < 10 * PART, `read ${pulled} bytes of ${data.length}`);
    assert.equal(await s3.multipartUploads(), 0);
  }));
});

/** The test's prefix of the bucket, seen through a plain client. */
class Bucket {
  private readonly client: S3Client;

  constructor(
    private readonly settings: S3Settings,
    private readonly prefix: string,
  ) {
    this.client = createS3Client(settings);
  }

  key(name: string): string {
    return `${this.prefix}/${name}`;
  }

  write(key: string, body: Readable, options: Partial<WriteObjectOptions> = {}): Promise<number> {
    return writeObject(this.client, this.settings.bucket, key, body, { partSize: PART, ...options });
  }

  async get(key: string): Promise<Buffer> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    return Buffer.from(await response.Body!.transformToByteArray());
  }

  head(key: string) {
    return this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.head(key);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async multipartUploads(): Promise<number> {
    let count = 0;
    for await (const _ of listMultipartUploads(this.client, this.settings.bucket, `${this.prefix}/`)) count++;
    return count;
  }

  close(): void {
    this.client.destroy();
  }
}
