// pier fsck (issue 11): every blob the index knows is in the filesystem store with its size, and
// with --verify its digest; a blob whose bytes were lost, cut short or changed is reported and the
// command exits 1; a blob being deleted by garbage collection is not a problem. A blob whose bytes
// are gone answers 404 BLOB_UNKNOWN to HEAD and GET (the client pushes it again), not 200 or 500.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { assertOciError } from '../support/oci.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

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
      assert.match(plain.stdout, /^checked 9 blobs \(.+\)\nno problem found\n$/);
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
  });
}
