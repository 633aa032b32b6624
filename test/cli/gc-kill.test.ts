// Crash safety of the collector (issue 11): `pier gc` killed with SIGKILL in the middle of its
// sweep, beside a running server; the registry stays consistent, the next run finishes the work,
// and the tagged image is intact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '../../src/oci/digest.js';
import type { RepositoryName } from '../../src/oci/names.js';
import { runPier } from '../support/cli.js';
import { pushImage } from '../support/images.js';
import { sha256 } from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';

const root = new URL('../..', import.meta.url).pathname;
const ORPHANS = 3000;

describe('pier gc killed with SIGKILL mid-sweep', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.stop());

  it('leaves a consistent registry that the next run finishes; nothing tagged is damaged', { timeout: 300_000 }, async () => {
    const repo = 'crash/app' as RepositoryName;
    const image = await pushImage(server.registry, repo, 'v1', { layers: 2 });
    const orphans: Digest[] = [];
    for (let i = 0; i < ORPHANS; i++) {
      const bytes = randomBytes(64);
      const digest = sha256(bytes) as Digest;
      await server.registry.uploads.monolithic(repo, digest, Readable.from([bytes]), { length: bytes.length }, {});
      orphans.push(digest);
    }
    const db = server.database.db;
    const count = async (marked: boolean) =>
      Number((await db.selectFrom('blobs').select(({ fn }) => fn.countAll().as('n')).$if(marked, (q) => q.where('deleting_at', 'is not', null)).executeTakeFirstOrThrow()).n);
    const before = await count(false);

    const env = { ...process.env, PIER_STORAGE_FSYNC: 'false', PIER_GC_LEASE: '2s' } as Record<string, string>;
    delete env.PIER_DATA;
    delete env.PIER_CONFIG;
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'gc', '--grace', '0s', '--data', server.dataDir], { cwd: root, env, stdio: 'ignore' });
    const exited = once(child, 'exit');
    // killed as soon as a page of blobs is marked: its bytes are being deleted
    let markedAtKill = 0;
    for (let i = 0; i < 60_000 && child.exitCode === null; i++) {
      markedAtKill = await count(true);
      if (markedAtKill > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGKILL');
    const [code, signal] = await exited;
    assert.equal(signal, 'SIGKILL', `the collector was still running (exit ${code})`);
    assert.ok(markedAtKill > 0, 'killed after marking blobs');
    const left = await count(false);
    const markedLeft = await count(true);
    assert.ok(left > before - ORPHANS && markedLeft > 0, `killed mid-sweep: ${before - left} of ${ORPHANS} collected, ${markedLeft} marked`);

    // meanwhile the registry serves the tagged image, and a marked blob cannot be linked again
    const pulled = await server.registry.manifests.get(repo, 'v1', undefined);
    assert.deepEqual(pulled.content, image.manifest);

    // the killed run's lock expires; the next run finishes what it started
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const rerun = await runPier(['gc', '--grace', '0s', '--json', '--data', server.dataDir], { env: { PIER_GC_LEASE: '2s' } });
    assert.equal(rerun.code, 0, rerun.stderr);
    const report = JSON.parse(rerun.stdout) as { blobs: number; resumedBlobs: number };
    assert.equal(report.blobs + report.resumedBlobs, left - 3, JSON.stringify(report));
    assert.equal(report.resumedBlobs, markedLeft, 'the marked blobs were finished first');
    assert.equal(await count(true), 0);
    assert.equal(await count(false), 3, 'the image: config and two layers');
    for (const digest of orphans) assert.equal(await server.store.stat(digest), undefined, digest);
    for (const blob of [image.config, ...image.layers]) {
      const { size } = await server.registry.blobs.stat(repo, blob.digest);
      const chunks: Buffer[] = [];
      for await (const chunk of await server.store.read(blob.digest as Digest, { start: 0, end: size! - 1 })) chunks.push(chunk as Buffer);
      assert.equal(sha256(Buffer.concat(chunks)), blob.digest);
    }
    const runs = await db.selectFrom('gc_runs').select(['status', 'trigger']).orderBy('started_at').execute();
    assert.deepEqual(runs, [
      { status: 'running', trigger: 'cli' },
      { status: 'succeeded', trigger: 'cli' },
    ]);
  });
});
