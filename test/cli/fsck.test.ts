// pier fsck (issue 11): every blob the index knows is in the filesystem store with its size, and
// with --verify its digest; a blob whose bytes were lost, cut short or changed is reported and the
// command exits 1; a blob being deleted by garbage collection is not a problem. A blob whose bytes
// are gone answers 404 BLOB_UNKNOWN to HEAD and GET (the client pushes it again), not 200 or 500.
// Orphans, bytes in storage that no index row knows, are listed; --repair removes those older
// than the grace period and nothing else; on the filesystem and on S3 (Swift).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { assertOciError } from '../support/oci.js';
import { s3TestStorageUrl, skipUnlessS3 } from '../support/s3.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';
import { parseStorageUrl } from '../../src/storage/storage-url.js';
import { createS3Store } from '../../src/storage/s3/store.js';
import type { Digest } from '../../src/oci/digest.js';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;

for (const { backend, options } of await testBackends()) {
  describe(`pier fsck (${backend})`, options, () => {
    let server: TestServer;
    let images: PushedImage[];
    let env: Record<string, string>;
    const fsck = (...args: string[]) => runPier(['fsck', ...args, '--data', server.dataDir], { env });
    const file = (digest: string) => join(server.dataDir, 'storage', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));

    before(async () => {
      server = await startTestServer({}, { backend });
      env = server.databaseUrl ? { PIER_DATABASE_URL: server.databaseUrl } : {};
      images = [];
      for (let i = 0; i < 3; i++) images.push(await pushImage(server.registry, 'fsck/app', `v${i}`, { layers: 2, layerBytes: 2000 }));
    });
    after(() => server?.stop());

    it('finds nothing wrong in a sound store, verifying digests too', async () => {
      const plain = await fsck();
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^checked 9 blobs \(.+\)\nno problem found\nno orphan in storage \(9 blobs listed\)\n$/);
      const verified = await fsck('--verify', '--json');
      assert.equal(verified.code, 0, verified.stderr);
      assert.deepEqual(JSON.parse(verified.stdout), { ...JSON.parse(verified.stdout), blobs: 9, verified: true, missing: 0, wrongSize: 0, corrupt: 0, problems: [] });
    });

    it('reports a lost, a shortened and a changed blob (the changed one with --verify) and exits 1', async () => {
      const [lost, shortened, changed] = [images[0]!.layers[0]!, images[1]!.layers[0]!, images[2]!.layers[1]!];
      rmSync(file(lost.digest));
      writeFileSync(file(shortened.digest), shortened.bytes.subarray(1));
      const bytes = Buffer.from(readFileSync(file(changed.digest)));
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
      writeFileSync(file(changed.digest), bytes);

      const plain = await fsck();
      assert.equal(plain.code, 1);
      assert.match(plain.stdout, /^checked 9 blobs/);
      assert.match(plain.stdout, /\n2 problems: 1 missing, 1 with another size, 0 with another digest\n/);
      assert.match(plain.stdout, new RegExp(`\\nmissing ${lost.digest} \\(${lost.size} bytes\\)\\n`));
      assert.match(plain.stdout, new RegExp(`\\nsize ${shortened.digest}: ${shortened.size - 1} bytes in storage, ${shortened.size} in the index\\n`));

      const verified = await fsck('--verify');
      assert.equal(verified.code, 1);
      assert.match(verified.stdout, /\n3 problems: 1 missing, 1 with another size, 1 with another digest\n/);
      assert.match(verified.stdout, new RegExp(`\\ndigest ${changed.digest}: the bytes hash to sha256:[0-9a-f]{64}\\n`));
    });

    it('a blob being deleted by garbage collection is not a problem', async () => {
      const lost = images[0]!.layers[0]!;
      await server.database.db.updateTable('blobs').set({ deleting_at: Date.now() }).where('digest', '=', lost.digest).execute();
      const plain = await fsck();
      assert.match(plain.stdout, /^checked 8 blobs/);
      assert.match(plain.stdout, /\n1 problems: 0 missing, 1 with another size/);
      await server.database.db.updateTable('blobs').set({ deleting_at: null }).where('digest', '=', lost.digest).execute();
    });

    it('HEAD and GET of a blob whose bytes are gone answer 404 BLOB_UNKNOWN', async () => {
      const lost = images[0]!.layers[0]!;
      for (const method of ['HEAD', 'GET']) {
        const res = await fetch(`${server.url}/v2/fsck/app/blobs/${lost.digest}`, { method });
        await assertOciError(res, 404, 'BLOB_UNKNOWN', { head: method === 'HEAD' });
      }
    });

    it('pushed again, the lost blob is whole: HEAD answers 200 and fsck no longer reports it', async () => {
      const lost = images[0]!.layers[0]!;
      await pushImage(server.url, 'fsck/app', 'v0', { image: images[0]! });
      assert.equal((await fetch(`${server.url}/v2/fsck/app/blobs/${lost.digest}`, { method: 'HEAD' })).status, 200);
      assert.deepEqual(readFileSync(file(lost.digest)), lost.bytes);
      const plain = await fsck();
      assert.match(plain.stdout, /\n1 problems: 0 missing, 1 with another size/);
    });

    it('lists the blobs no index row knows; --repair removes those older than the grace period, and nothing else', async () => {
      const [old, fresh] = [randomBytes(1500), randomBytes(700)];
      for (const bytes of [old, fresh]) {
        mkdirSync(join(file(sha256(bytes)), '..'), { recursive: true });
        writeFileSync(file(sha256(bytes)), bytes);
      }
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
      utimesSync(file(sha256(old)), twoHoursAgo, twoHoursAgo);
      writeFileSync(join(server.dataDir, 'storage', 'blobs', 'sha256', 'stray.txt'), 'not a blob');

      const listed = await fsck();
      assert.equal(listed.code, 1, 'the damaged blob of the test before');
      assert.match(listed.stdout, /\n2 orphans in storage, blobs no index row knows \(2\.2 KB; 1 younger than the grace period of 3600s\)\n/);
      assert.match(listed.stdout, new RegExp(`\\norphan ${sha256(old)} \\(1500 bytes, written ${twoHoursAgo.toISOString().slice(0, 16)}`));
      assert.match(listed.stdout, new RegExp(`\\norphan ${sha256(fresh)} \\(700 bytes`));
      assert.match(listed.stdout, /\npier fsck --repair removes the 1 older than the grace period\n$/);

      const known = images.flatMap((image) => image.layers.map((layer) => layer.digest));
      const sizes = () => known.map((digest) => readFileSync(file(digest)).length);
      const before = sizes();
      const repaired = JSON.parse((await fsck('--repair', '--json')).stdout) as { orphans: { orphans: number; removed: number; removedBytes: number; recent: number } };
      assert.deepEqual([repaired.orphans.orphans, repaired.orphans.recent, repaired.orphans.removed, repaired.orphans.removedBytes], [2, 1, 1, 1500]);
      assert.throws(() => readFileSync(file(sha256(old))), /ENOENT/);
      assert.deepEqual(readFileSync(file(sha256(fresh))), fresh);
      assert.equal(readFileSync(join(server.dataDir, 'storage', 'blobs', 'sha256', 'stray.txt'), 'utf8'), 'not a blob');

      const zero = await fsck('--repair', '--grace', '0s');
      assert.match(zero.stdout, new RegExp(`\\nremoved ${sha256(fresh)} \\(700 bytes`));
      assert.match(zero.stdout, /\nremoved 1 orphans \(700 B freed\)\n$/);
      assert.throws(() => readFileSync(file(sha256(fresh))), /ENOENT/);
      // every image the index knows is still whole, and no row was left behind
      assert.deepEqual(sizes(), before);
      assert.equal((await server.database.db.selectFrom('blobs').select('digest').where('deleting_at', 'is not', null).execute()).length, 0);
      assert.match((await fsck()).stdout, /\nno orphan in storage \(9 blobs listed\)\n$/);
      assert.match((await fsck('--grace', 'soon')).stderr, /--grace expects a duration/);
    });
  });
}

describe('pier fsck on S3 (Swift)', await skipUnlessS3(), () => {
  let server: TestServer;
  let storage: { url: string; cleanup(): Promise<void> };
  let image: PushedImage;
  const fsck = (...args: string[]) => runPier(['fsck', ...args, '--data', server.dataDir], { env: { PIER_STORAGE_URL: storage.url } });

  before(async () => {
    storage = await s3TestStorageUrl();
    server = await startTestServer({ 'storage.url': storage.url });
    image = await pushImage(server.registry, 'fsck/s3', 'v1', { layers: 2, layerBytes: 2000 });
  });
  after(async () => {
    await server?.stop();
    await storage?.cleanup();
  });

  it('lists the objects no index row knows beside the blobs it checks, and --repair removes them', async () => {
    const location = parseStorageUrl(storage.url);
    if (location.kind !== 's3') throw new Error('an s3:// URL');
    const store = createS3Store(location.settings);
    const orphan = randomBytes(1200);
    try {
      await store.createUpload('orphan');
      await store.append('orphan', 0, Readable.from([orphan]));
      await store.commit('orphan', sha256(orphan), orphan.length);

      const listed = await fsck();
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^checked 3 blobs \(.+\)\nno problem found\n1 orphans in storage, blobs no index row knows \(1\.2 KB; 1 younger than the grace period of 3600s\)\n/);
      assert.equal(await store.stat(sha256(orphan)), orphan.length, 'younger than the grace period: kept');

      const repaired = await fsck('--repair', '--grace', '0s');
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stdout, /\nremoved 1 orphans \(1\.2 KB freed\)\n$/);
      assert.equal(await store.stat(sha256(orphan)), undefined);
      for (const layer of image.layers) assert.equal(await store.stat(layer.digest as Digest), layer.size);
      assert.match((await fsck()).stdout, /\nno orphan in storage \(3 blobs listed\)\n$/);
    } finally {
      await store.close?.();
    }
  });
});
