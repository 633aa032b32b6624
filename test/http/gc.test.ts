// Garbage collection through POST /api/v1/admin/gc and `pier gc`, on SQLite and PostgreSQL over
// the filesystem store: administrators only, a dry run that changes nothing, the bytes of deleted
// content gone from the disk, tagged images untouched, the runs recorded, and pushing the deleted
// image again works.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { runPier } from '../support/cli.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { testBackends } from '../support/server.js';

const HOUR = 3_600_000;

interface Report {
  dry_run: boolean;
  blobs_deleted: number;
  bytes_freed: number;
  manifests_deleted: number;
  links_removed: number;
}

for (const { backend, options } of await testBackends()) {
  describe(`garbage collection through the API and the CLI (${backend})`, options, () => {
    let server: ApiServer;
    const admin = { basic: ['boss', PASSWORD] as [string, string] };
    before(async () => {
      server = await startApiServer({}, { backend });
      await createUser(server, 'boss', { admin: true });
      await createUser(server, 'alice');
    });
    after(() => server?.stop());

    /** where the filesystem store keeps a blob */
    const onDisk = (digest: string) => existsSync(join(server.dataDir, 'storage', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)));
    const blobsOf = (image: PushedImage) => [image.config.digest, ...image.layers.map((l) => l.digest)];

    // first: the CLI's clock is the real one, the server's is moved forward by the next test
    it('pier gc on the data directory of the running server: a report, then the bytes gone', { skip: backend === 'postgres' ? 'the CLI opens the SQLite data directory; PostgreSQL is the API case above' : undefined }, async () => {
      const image = await pushImage(server.registry, 'alice/cli', 'v1');
      await server.registry.manifests.delete('alice/cli' as never, 'v1', { account: 'alice' });
      await server.registry.manifests.delete('alice/cli' as never, image.digest, { account: 'alice' });
      const dry = await runPier(['gc', '--dry-run', '--grace', '0s', '--data', server.dataDir]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^dry run: would delete 2 blobs \(/);
      assert.equal(onDisk(image.config.digest), true);
      const run = await runPier(['gc', '--grace', '0s', '--json', '--data', server.dataDir]);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout) as { blobs: number; bytesFreed: number };
      assert.equal(report.blobs, 2);
      assert.equal(report.bytesFreed, image.config.size + image.layers[0]!.size);
      assert.equal(onDisk(image.config.digest), false);
      const bad = await runPier(['gc', '--grace', 'soon', '--data', server.dataDir]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^pier: --grace expects a duration/);
    });

    it('is for administrators, reports a dry run without changing anything, then frees the bytes of deleted content only', async () => {
      const kept = await pushImage(server.registry, 'alice/app', 'v1', { layers: 2 });
      const deleted = await pushImage(server.registry, 'alice/app', 'v2', { layers: 2 });
      for (const digest of [...blobsOf(kept), ...blobsOf(deleted)]) assert.equal(onDisk(digest), true, `${digest} is where the store keeps it`);
      await server.registry.manifests.delete('alice/app' as never, deleted.digest, { account: 'alice' });
      server.advance(2 * HOUR);

      await expectProblem(await server.api('/admin/gc', { method: 'POST', json: {}, auth: { basic: ['alice', PASSWORD] } }), 403);
      await expectProblem(await server.api('/admin/gc', { method: 'POST', json: {} }), 401);

      const dry = await expectJson<Report>(await server.api('/admin/gc', { method: 'POST', json: { dry_run: true }, auth: admin }), 200);
      assert.equal(dry.dry_run, true);
      assert.equal(dry.blobs_deleted, 3);
      assert.equal(dry.bytes_freed, deleted.config.size + deleted.layers[0]!.size + deleted.layers[1]!.size);
      for (const digest of blobsOf(deleted)) assert.equal(onDisk(digest), true, 'a dry run deletes nothing');

      const real = await expectJson<Report>(await server.api('/admin/gc', { method: 'POST', json: {}, auth: admin }), 200);
      assert.deepEqual([real.dry_run, real.blobs_deleted, real.bytes_freed, real.links_removed], [false, 3, dry.bytes_freed, 3]);
      for (const digest of blobsOf(deleted)) assert.equal(onDisk(digest), false, `${digest} is gone from the disk`);
      for (const digest of blobsOf(kept)) assert.equal(onDisk(digest), true, `${digest} of the kept image stays`);
      const pulled = await server.registry.manifests.get('alice/app' as never, 'v1', undefined);
      assert.deepEqual(pulled.content, kept.manifest);

      const runs = await expectJson<{ count: number; results: Array<{ trigger: string; status: string; dry_run: boolean; report: Report | null }> }>(
        await server.api('/admin/gc/runs', { auth: admin }),
        200,
      );
      assert.deepEqual(
        runs.results.slice(0, 2).map((r) => [r.trigger, r.status, r.dry_run, r.report?.blobs_deleted]),
        [
          ['api', 'succeeded', false, 3],
          ['api', 'succeeded', true, 3],
        ],
      );

      // pushed again, the image is stored anew, whole
      const again = await pushImage(server.registry, 'alice/app', 'v2', { image: deleted });
      for (const digest of blobsOf(again)) assert.equal(onDisk(digest), true);
    });
  });
}
