import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createFsStore } from './fs-store.js';
import { createMemoryStore } from './memory-store.js';

// The `check` capability of the local stores (S3's is in s3/store.test.ts).
describe('store checks', () => {
  it('filesystem: makes the root when it can, and says when it cannot hold blobs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-fs-check-'));
    try {
      await createFsStore({ root: join(dir, 'made', 'on', 'demand') }).check!();
      await writeFile(join(dir, 'file'), 'x');
      await assert.rejects(createFsStore({ root: join(dir, 'file') }).check!(), /storage directory .*file is not a directory/);
      await assert.rejects(createFsStore({ root: join(dir, 'file', 'below') }).check!(), /storage directory .*below is not writable: ENOTDIR/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('memory: always usable', async () => {
    await createMemoryStore().check!();
  });
});
