import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { appendBody } from './body-writer.js';

/** Pieces of `bytes` of irregular sizes (1 byte to 200 KiB), as a socket and a client would cut them. */
function pieces(bytes: Buffer, seed = 7): Buffer[] {
  const out: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const n = Math.min(bytes.length - at, 1 + (state % (200 * 1024)));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('appendBody (the filesystem store’s writer)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-body-writer-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const append = async (name: string, body: Readable, observe?: (bytes: Buffer) => void | Promise<void>) => {
    const fd = openSync(join(dir, name), 'a');
    try {
      return await appendBody(fd, body, observe);
    } finally {
      closeSync(fd);
    }
  };

  it('writes every byte in order, shows each piece to the observer, and many appends at once each write their own', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(3 * 1024 * 1024 + i * 1234));
    const hashes = bodies.map(() => createHash('sha256'));
    const sizes = await Promise.all(bodies.map((bytes, i) => append(`many-${i}`, Readable.from(pieces(bytes, i + 1)), (piece) => void hashes[i]!.update(piece))));
    bodies.forEach((bytes, i) => {
      assert.equal(sizes[i], bytes.length);
      assert.ok(readFileSync(join(dir, `many-${i}`)).equals(bytes), `body ${i} stored as sent`);
      assert.equal(hashes[i]!.digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    });
  });

  it('appends after what the file holds, and an empty body writes nothing', async () => {
    const first = randomBytes(1500);
    const second = randomBytes(2 * 1024 * 1024 + 17); // more than one batch
    assert.equal(await append('twice', Readable.from([first])), first.length);
    assert.equal(await append('twice', Readable.from(pieces(second))), second.length);
    assert.equal(await append('twice', Readable.from([])), 0);
    assert.ok(readFileSync(join(dir, 'twice')).equals(Buffer.concat([first, second])));
  });

  it('holds the body while the observer’s promise is pending, and fails with its rejection', async () => {
    const bytes = randomBytes(600 * 1024);
    let held = 0;
    const size = await append('held', Readable.from(pieces(bytes)), async () => {
      held++;
      await delay(1);
    });
    assert.equal(size, bytes.length);
    assert.ok(held > 1);
    assert.ok(readFileSync(join(dir, 'held')).equals(bytes));

    const refusal = new Error('over the quota');
    let seen = 0;
    await assert.rejects(
      append('refused', Readable.from(pieces(randomBytes(900 * 1024))), (piece) => {
        seen += piece.length;
        return seen > 300 * 1024 ? Promise.reject(refusal) : undefined;
      }),
      refusal,
    );
  });

  it('rejects with the body’s error when the client goes away mid-body, once nothing is being written', async () => {
    const body = new PassThrough();
    const writing = append('cut', body);
    body.write(randomBytes(100 * 1024));
    await delay(5);
    body.destroy(new Error('aborted'));
    await assert.rejects(writing, /aborted/);
  });

  it('writes a slow body’s bytes soon after they arrive (not held in memory), then the rest in order', async () => {
    const body = new PassThrough();
    const fd = openSync(join(dir, 'slow'), 'a');
    try {
      const writing = appendBody(fd, body);
      const first = randomBytes(700);
      body.write(first);
      await delay(200); // a stalled client: what it sent is in the file, not held in memory
      assert.ok(readFileSync(join(dir, 'slow')).equals(first));
      const rest = randomBytes(3 * 1024 * 1024);
      for (let at = 0; at < rest.length; at += 32 * 1024) body.write(rest.subarray(at, at + 32 * 1024));
      body.end();
      assert.equal(await writing, first.length + rest.length);
      assert.ok(readFileSync(join(dir, 'slow')).equals(Buffer.concat([first, rest])));
    } finally {
      closeSync(fd);
    }
  });

  it('rejects with the write’s error and leaves the body paused for its owner to drain', async () => {
    const fd = openSync(join(dir, 'read-only'), 'w');
    closeSync(fd);
    const readOnly = openSync(join(dir, 'read-only'), 'r');
    const body = Readable.from(pieces(randomBytes(400 * 1024)));
    try {
      await assert.rejects(appendBody(readOnly, body), /EBADF/);
      assert.ok(body.isPaused());
    } finally {
      closeSync(readOnly);
    }
  });
});
