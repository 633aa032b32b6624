// Garbage collection under load, the test that matters (issue 11): workers push images over HTTP
// that share layers, the way docker does (HEAD each blob, upload only the missing ones, then the
// manifest; on MANIFEST_BLOB_UNKNOWN or an upload refused, do it again), move tags and delete
// tags and manifests, while the collector runs again and again with a grace period of zero. After
// a last collection, every tag still there pulls completely and verifies byte for byte, and every
// blob that nothing references any more is gone from the index and from the store.
// On SQLite + filesystem (one server), and on PostgreSQL + S3 (Swift) with two replicas.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CollectorBusy } from '../../src/registry/gc/collector.js';
import type { Digest } from '../../src/oci/digest.js';
import { bin, jsonBytes, MT, sha256 } from '../support/oci.js';
import { s3TestStorageUrl, skipUnlessS3 } from '../support/s3.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

const WORKERS = 6;
const ROUNDS = 8;
const SHARED = Array.from({ length: 6 }, () => randomBytes(4096 + Math.floor(Math.random() * 8192)));

interface Blob {
  digest: string;
  bytes: Buffer;
}

const blobOf = (bytes: Buffer): Blob => ({ digest: sha256(bytes), bytes });

async function status(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text() };
}

/** A client that pushes like docker: HEAD, upload what is missing, PUT the manifest; again on a refusal. */
async function pushLikeDocker(base: string, repo: string, tag: string, blobs: Blob[], manifest: Buffer): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    for (const blob of blobs) {
      const head = await status(`${base}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
      if (head.status === 200) continue;
      const upload = await status(`${base}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bin(blob.bytes),
      });
      // BLOB_UPLOAD_UNKNOWN: the same bytes were being collected as the upload finished
      if (upload.status !== 201 && !(upload.status === 404 && upload.text.includes('BLOB_UPLOAD_UNKNOWN'))) {
        assert.fail(`upload to ${repo}: ${upload.status} ${upload.text}`);
      }
    }
    const put = await status(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': MT.OciManifest }, body: bin(manifest) });
    if (put.status === 201) return attempt;
    if (attempt >= 10) process.stderr.write(`# ${repo}:${tag} attempt ${attempt}: ${put.text.slice(0, 200)}\n`);
    assert.ok(put.text.includes('MANIFEST_BLOB_UNKNOWN'), `manifest ${repo}:${tag}: ${put.status} ${put.text}`);
    assert.ok(attempt < 50, `${repo}:${tag} still refused after ${attempt} attempts`);
  }
}

async function pullAndVerify(base: string, repo: string, tag: string): Promise<void> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { headers: { accept: MT.OciManifest } });
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, `${repo}:${tag}: ${bytes.toString()}`);
  assert.equal(sha256(bytes), res.headers.get('docker-content-digest'));
  const manifest = JSON.parse(bytes.toString()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
  for (const descriptor of [manifest.config, ...manifest.layers]) {
    const blob = await fetch(`${base}/v2/${repo}/blobs/${descriptor.digest}`);
    const content = Buffer.from(await blob.arrayBuffer());
    assert.equal(blob.status, 200, `${repo}:${tag} blob ${descriptor.digest}: ${content.toString().slice(0, 200)}`);
    assert.equal(content.length, descriptor.size);
    assert.equal(sha256(content), descriptor.digest, `${repo}:${tag} blob ${descriptor.digest} verifies`);
  }
}

const s3Options = await skipUnlessS3();
const setups = (await testBackends()).map(({ backend, options }) =>
  backend === 'sqlite'
    ? { name: 'SQLite + filesystem, one server', backend, replicas: 1, s3: false, options }
    : { name: 'PostgreSQL + S3 (Swift), two replicas', backend, replicas: 2, s3: true, options: options.skip ? options : s3Options },
);

for (const setup of setups) {
  describe(`garbage collection under load (${setup.name})`, setup.options, () => {
    const servers: TestServer[] = [];
    let storage: { url: string; cleanup(): Promise<void> } | undefined;
    before(async () => {
      storage = setup.s3 ? await s3TestStorageUrl() : undefined;
      const overrides = storage ? { 'storage.url': storage.url } : {};
      const first = await startTestServer(overrides, { backend: setup.backend });
      servers.push(first);
      for (let i = 1; i < setup.replicas; i++) servers.push(await startTestServer(overrides, { sharing: first }));
    });
    after(async () => {
      for (const server of servers.slice(1)) await server.stop();
      await servers[0]?.stop();
      await storage?.cleanup();
    });

    it('no tagged image is damaged, and every blob no longer referenced is gone', { timeout: 600_000 }, async () => {
      const pushed = new Set<string>();
      let refusals = 0;
      let collections = 0;
      let done = false;

      const worker = async (w: number) => {
        const repo = `load/w${w % 3}`;
        for (let round = 0; round < ROUNDS; round++) {
          const base = servers[(w + round) % servers.length]!.url;
          const config = blobOf(jsonBytes({ architecture: 'amd64', os: 'linux', worker: w, round, nonce: randomBytes(4).toString('hex') }));
          const layers = [blobOf(SHARED[(w + round) % SHARED.length]!), blobOf(SHARED[(w * 3 + round) % SHARED.length]!), blobOf(randomBytes(2048))];
          const unique = [...new Map([config, ...layers].map((b) => [b.digest, b])).values()];
          for (const b of unique) pushed.add(b.digest);
          const manifest = jsonBytes({
            schemaVersion: 2,
            mediaType: MT.OciManifest,
            config: { mediaType: MT.OciConfig, digest: config.digest, size: config.bytes.length },
            layers: layers.map((l) => ({ mediaType: MT.OciLayer, digest: l.digest, size: l.bytes.length })),
          });
          // tags move (three per worker), some are deleted, some manifests are deleted by digest
          const tag = `w${w}-t${round % 3}`;
          refusals += (await pushLikeDocker(base, repo, tag, unique, manifest)) - 1;
          succeeded++;
          if (round % 4 === 3) await status(`${base}/v2/${repo}/manifests/w${w}-t${(round + 1) % 3}`, { method: 'DELETE' });
          if (round % 5 === 4) await status(`${base}/v2/${repo}/manifests/${sha256(manifest)}`, { method: 'DELETE' });
        }
      };

      // With a grace of zero nothing protects a blob between its upload and the manifest that names
      // it: a collector that ran back to back could refuse pushes forever (each refusal clean, each
      // retry losing again, the more so on a loaded machine). So a collector runs again once a push
      // has succeeded since its last run: it still runs while pushes are in flight, all along.
      let succeeded = 0;
      const collector = async () => {
        let seen = -1;
        for (let i = 0; !done; i++) {
          if (succeeded === seen) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          seen = succeeded;
          try {
            await servers[i % servers.length]!.registry.gc!.collect({ graceMs: 0, untagged: i % 2 === 1 });
            collections++;
          } catch (error) {
            if (!(error instanceof CollectorBusy)) throw error;
          }
        }
      };

      // one collector per replica, competing for the lease
      const collecting = servers.map(() => collector());
      try {
        await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      } finally {
        done = true;
        await Promise.allSettled(collecting);
      }
      await Promise.all(collecting);
      assert.ok(collections >= 3, `the collector ran ${collections} times during the pushes`);

      // the last collection, after the pushes: nothing unreferenced is left
      await servers[0]!.registry.gc!.collect({ graceMs: 0, untagged: true });

      const base = servers[servers.length - 1]!.url;
      let tags = 0;
      for (const repo of ['load/w0', 'load/w1', 'load/w2']) {
        const res = await fetch(`${base}/v2/${repo}/tags/list`);
        const list = (await res.json()) as { tags: string[] | null };
        for (const tag of list.tags ?? []) {
          await pullAndVerify(base, repo, tag);
          tags++;
        }
      }
      assert.ok(tags >= WORKERS, `${tags} tags left to verify`);

      const db = servers[0]!.database.db;
      const referenced = new Set((await db.selectFrom('manifest_references').select('digest').where('kind', '=', 'blob').execute()).map((r) => r.digest));
      const store = servers[0]!.store;
      let gone = 0;
      for (const digest of pushed) {
        const stored = (await store.stat(digest as Digest)) !== undefined;
        const indexed = (await db.selectFrom('blobs').select('digest').where('digest', '=', digest).executeTakeFirst()) !== undefined;
        if (referenced.has(digest)) {
          assert.ok(stored && indexed, `${digest} is referenced: stored ${stored}, indexed ${indexed}`);
        } else {
          assert.ok(!stored && !indexed, `${digest} is referenced by nothing: stored ${stored}, indexed ${indexed}`);
          gone++;
        }
      }
      assert.ok(gone > 0, 'deleted tags and manifests left blobs to collect');
      process.stdout.write(`# ${setup.name}: ${pushed.size} blobs pushed, ${gone} collected, ${tags} tags verified, ${collections} collections, ${refusals} pushes retried\n`);
    });
  });
}
