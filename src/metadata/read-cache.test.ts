// The index's ReadCache on SQLite: answers kept while nothing is written, and every write seen at
// once, by this connection or another (a CLI command on the same file, another process).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite, type MetadataDatabase } from './database.js';
import { ReadCache } from './read-cache.js';
import { RegistryIndex } from './registry-index.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('ReadCache', () => {
  it('answers from memory while the value of changes() stays, reads again once it moves, and keeps nothing read across a move', async () => {
    let changes = 1;
    let reads = 0;
    const cache = new ReadCache(() => changes);
    const read = async () => ++reads;
    assert.equal(await cache.get('a', read), 1);
    assert.equal(await cache.get('a', read), 1);
    changes++;
    assert.equal(await cache.get('a', read), 2);
    // a write while the read is under way: its answer is returned, not kept
    assert.equal(
      await cache.get('b', async () => {
        changes++;
        return ++reads;
      }),
      3,
    );
    assert.equal(await cache.get('b', read), 4);
    assert.equal(await cache.get('b', read), 4);
  });
});

describe('RegistryIndex on one SQLite file, two connections', () => {
  let dir: string;
  let server: MetadataDatabase;
  let cli: MetadataDatabase;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-read-cache-'));
    server = await openSqlite({ path: join(dir, 'pier.db') });
    cli = await openSqlite({ path: join(dir, 'pier.db') });
  });
  after(async () => {
    await server.close();
    await cli.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sees a blob link and a page of tags change at once, whichever connection wrote', async () => {
    const index = new RegistryIndex(server.db, { changes: server.changes });
    const other = new RegistryIndex(cli.db);
    await index.linkBlob('alice/app', D(1), 10, 1000);
    assert.equal((await index.getBlobLink('alice/app', D(1)))?.size, 10);
    assert.equal((await index.getBlobLink('alice/app', D(1)))?.size, 10);
    assert.equal(await other.unlinkBlob('alice/app', D(1)), true);
    assert.equal(await index.getBlobLink('alice/app', D(1)), undefined, 'unlinked by the other connection');
    await other.linkBlob('alice/app', D(1), 10, 2000);
    assert.equal((await index.getBlobLink('alice/app', D(1)))?.lastSeenAt, 2000);
    await index.touchBlobLink('alice/app', D(1), 3000);
    assert.equal((await index.getBlobLink('alice/app', D(1)))?.lastSeenAt, 3000, 'touched by this one');

    const manifest = { repository: 'alice/app', digest: D(100), mediaType: 'application/vnd.oci.image.manifest.v1+json', content: Buffer.from('{}'), references: [], now: 1 };
    await index.putManifest({ ...manifest, tags: ['a', 'b', 'c'] });
    assert.deepEqual(await index.listTags('alice/app', { n: 2 }), ['a', 'b']);
    await other.putManifest({ ...manifest, tags: ['0'] });
    assert.deepEqual(await index.listTags('alice/app', { n: 2 }), ['0', 'a']);
    await other.deleteTag('alice/app', '0');
    assert.deepEqual(await index.listTags('alice/app', { n: 2 }), ['a', 'b']);
    await index.deleteTag('alice/app', 'a');
    assert.deepEqual(await index.listTags('alice/app', { n: 2 }), ['b', 'c']);
  });
});
