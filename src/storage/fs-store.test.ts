import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobStoreSuite } from './blob-store.suite.js';
import { createFsStore } from './fs-store.js';

for (const fsync of [true, false]) {
  blobStoreSuite(`filesystem (fsync ${fsync})`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'pier-fs-store-'));
    return { store: createFsStore({ root, fsync }), cleanup: () => rm(root, { recursive: true, force: true }) };
  });
}
