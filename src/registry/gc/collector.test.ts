// The garbage collector over a real index (SQLite and PostgreSQL) and a real store (memory and
// filesystem): what goes and what stays, the grace period, dry runs, untagged manifests, one run
// at a time, a run killed between marking and deleting, and the race of docs/garbage-collection.md
// made deterministic with the collector's hooks (a gate between its decision and its deletion).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import { MediaType } from '../../oci/media-types.js';
import type { RepositoryName } from '../../oci/names.js';
import { body, engineSetups, repositoryName, sha256, type Engine } from '../engine.testing.js';
import type { Registry } from '../registry.js';
import { CollectorBusy, type GcHooks } from './collector.js';

const actor = { account: 'alice' };
const HOUR = 3_600_000;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

interface Image {
  digest: Digest;
  bytes: Buffer;
  blobs: Digest[];
  descriptor: { mediaType: string; digest: Digest; size: number };
}

async function pushBlob(registry: Registry, repository: RepositoryName, bytes: Buffer): Promise<Digest> {
  await registry.uploads.monolithic(repository, sha256(bytes), body(bytes), { length: bytes.length }, actor);
  return sha256(bytes);
}

function manifestOf(config: Buffer, layers: Buffer[], subject?: Image['descriptor']): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
    ...(subject ? { subject } : {}),
  });
}

async function pushImage(registry: Registry, repository: RepositoryName, tag: string | undefined, options: { layers?: Buffer[]; subject?: Image['descriptor'] } = {}): Promise<Image> {
  const config = json({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') });
  const layers = options.layers ?? [randomBytes(300)];
  const blobs = [await pushBlob(registry, repository, config)];
  for (const layer of layers) blobs.push(await pushBlob(registry, repository, layer));
  const bytes = manifestOf(config, layers, options.subject);
  const digest = sha256(bytes);
  await registry.manifests.put(repository, tag ?? digest, bytes, MediaType.OciManifest, [], actor);
  return { digest, bytes, blobs, descriptor: { mediaType: MediaType.OciManifest, digest, size: bytes.length } };
}

async function pushIndex(registry: Registry, repository: RepositoryName, tag: string | undefined, children: Image[]): Promise<Digest> {
  const bytes = json({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: children.map((c) => ({ ...c.descriptor, platform: { os: 'linux', architecture: 'amd64' } })),
    annotations: { nonce: randomBytes(6).toString('hex') },
  });
  await registry.manifests.put(repository, tag ?? sha256(bytes), bytes, MediaType.OciIndex, [], actor);
  return sha256(bytes);
}

const oci = (code: string) => (error: unknown) => {
  assert.ok(error instanceof OciError, `expected OciError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return true;
};

for (const setup of await engineSetups()) {
  describe(`GarbageCollector (${setup.name})`, setup.options, () => {
    let engine: Engine;
    before(async () => {
      engine = await setup.open();
    });
    after(() => engine?.close());

    const registry = () => engine.registry;
    const gc = (options: Parameters<NonNullable<Registry['gc']>['collect']>[0] = {}) => engine.registry.gc!.collect({ graceMs: 0, ...options });
    /** past every grace period of 0: the collector takes what is strictly older than its cutoff */
    const later = (ms = 1) => engine.clock.advance(ms);
    const stored = async (digest: Digest) => (await engine.store.stat(digest)) !== undefined;
    const indexed = async (digest: Digest) => (await engine.index.findBlob(digest)) !== undefined;
    /** pulls every blob of an image back, byte for byte */
    const pullsWhole = async (repository: RepositoryName, image: Image) => {
      const record = await registry().manifests.get(repository, image.digest, undefined);
      assert.deepEqual(record.content, image.bytes);
      for (const digest of image.blobs) {
        const { size } = await registry().blobs.stat(repository, digest);
        const chunks: Buffer[] = [];
        for await (const chunk of await engine.store.read(digest, { start: 0, end: size! - 1 })) chunks.push(chunk as Buffer);
        assert.equal(sha256(Buffer.concat(chunks)), digest);
      }
    };

    it('deletes what no manifest references (an abandoned upload, a deleted manifest) and keeps every tagged image whole', async () => {
      const repo = repositoryName();
      const shared = randomBytes(500);
      const kept = await pushImage(registry(), repo, 'kept', { layers: [shared] });
      const gone = await pushImage(registry(), repo, 'gone', { layers: [shared, randomBytes(400)] });
      const orphan = await pushBlob(registry(), repo, randomBytes(100));
      await registry().manifests.delete(repo, gone.digest, actor);
      later();
      const report = await gc();
      assert.ok(report.links >= 3 && report.blobs >= 3, JSON.stringify(report));
      for (const digest of [gone.blobs[0]!, gone.blobs[2]!, orphan]) {
        assert.equal(await stored(digest), false, digest);
        assert.equal(await indexed(digest), false, digest);
        await assert.rejects(registry().blobs.stat(repo, digest), oci('BLOB_UNKNOWN'));
      }
      await pullsWhole(repo, kept);
      // the layer both shared stays
      assert.equal(await stored(sha256(shared)), true);
      // pushed again, it is stored anew and pulls
      const again = await pushImage(registry(), repo, 'gone', { layers: [shared] });
      await pullsWhole(repo, again);
    });

    it('keeps what is younger than the grace period, and a blob another repository still uses', async () => {
      const a = repositoryName();
      const b = repositoryName();
      const layer = randomBytes(300);
      const inA = await pushImage(registry(), a, 'v1', { layers: [layer] });
      await pushImage(registry(), b, 'v1', { layers: [layer] });
      const fresh = await pushBlob(registry(), a, randomBytes(50));
      await registry().manifests.delete(a, inA.digest, actor);
      later(30 * 60_000);
      await gc({ graceMs: HOUR });
      assert.equal(await stored(fresh), true, 'a blob uploaded half an hour ago stays');
      assert.equal(await stored(inA.blobs[0]!), true, 'the config was stored half an hour ago');
      later(HOUR);
      await gc({ graceMs: HOUR });
      assert.equal(await stored(fresh), false);
      assert.equal(await stored(inA.blobs[0]!), false);
      assert.equal(await stored(sha256(layer)), true, 'b still uses the layer');
      await assert.rejects(registry().blobs.stat(a, sha256(layer)), oci('BLOB_UNKNOWN'));
    });

    it('a dry run reports what would go, with its bytes, and changes nothing', async () => {
      const repo = repositoryName();
      const bytes = randomBytes(1234);
      const orphan = await pushBlob(registry(), repo, bytes);
      later();
      const dry = await gc({ dryRun: true });
      assert.equal(dry.dryRun, true);
      assert.ok(dry.blobs >= 1 && dry.bytesFreed >= 1234, JSON.stringify(dry));
      assert.equal(await stored(orphan), true);
      assert.equal((await registry().blobs.stat(repo, orphan)).size, 1234);
      const real = await gc();
      assert.equal(real.blobs, dry.blobs);
      assert.equal(real.bytesFreed, dry.bytesFreed);
      assert.equal(await stored(orphan), false);
      const [last] = await engine.gcIndex.runs(1);
      assert.equal(last?.status, 'succeeded');
      assert.equal(last?.report?.blobs, real.blobs);
    });

    it('collects untagged manifests only when asked; children of a tagged index and referrers of a kept manifest stay', async () => {
      const repo = repositoryName();
      const child = await pushImage(registry(), repo, undefined);
      await pushIndex(registry(), repo, 'multi', [child]);
      const signed = await pushImage(registry(), repo, 'signed');
      const signature = await pushImage(registry(), repo, undefined, { subject: signed.descriptor });
      const untagged = await pushImage(registry(), repo, undefined);
      // an untagged index: it goes, and its child after it
      const lonelyChild = await pushImage(registry(), repo, undefined);
      const lonelyIndex = await pushIndex(registry(), repo, undefined, [lonelyChild]);
      // a referrer of a manifest that goes, goes with it
      const orphanSignature = await pushImage(registry(), repo, undefined, { subject: untagged.descriptor });
      later();
      await gc();
      for (const image of [child, signed, signature, untagged, lonelyChild, orphanSignature]) await pullsWhole(repo, image);

      const report = await gc({ untagged: true });
      assert.ok(report.manifests >= 4, JSON.stringify(report));
      for (const image of [child, signed, signature]) await pullsWhole(repo, image);
      for (const digest of [untagged.digest, lonelyChild.digest, lonelyIndex, orphanSignature.digest]) {
        await assert.rejects(registry().manifests.get(repo, digest, undefined), oci('MANIFEST_UNKNOWN'), digest);
      }
      for (const digest of [...untagged.blobs, ...lonelyChild.blobs]) assert.equal(await stored(digest), false, digest);
    });

    it('deleting a manifest deletes its referrers with it; deleting an index leaves its children to whatever else names them', async () => {
      const repo = repositoryName();
      const child = await pushImage(registry(), repo, undefined);
      const first = await pushIndex(registry(), repo, 'one', [child]);
      await pushIndex(registry(), repo, 'two', [child]);
      const signed = await pushImage(registry(), repo, 'signed');
      const signature = await pushImage(registry(), repo, 'sig', { subject: signed.descriptor });
      const attestation = await pushImage(registry(), repo, undefined, { subject: signature.descriptor });
      await registry().manifests.delete(repo, signed.digest, actor);
      for (const digest of [signed.digest, signature.digest, attestation.digest]) {
        await assert.rejects(registry().manifests.get(repo, digest, undefined), oci('MANIFEST_UNKNOWN'), digest);
      }
      assert.deepEqual((await registry().listings.tags(repo, {})).items, ['one', 'two']);
      await registry().manifests.delete(repo, first, actor);
      later();
      await gc({ untagged: true });
      await pullsWhole(repo, child);
      for (const digest of [...signed.blobs, ...signature.blobs]) assert.equal(await stored(digest), false, digest);
    });

    it('runs once at a time: a second collector is refused while the lease is held, and takes over a lease that expired', async () => {
      let release!: () => void;
      const paused = new Promise<void>((resolve) => (release = resolve));
      let reached!: () => void;
      const atGate = new Promise<void>((resolve) => (reached = resolve));
      const hooks: GcHooks = {
        async beforeUnlink() {
          reached();
          await paused;
        },
      };
      const first = engine.replica({ gc: { hooks } }).gc!.collect({ graceMs: 0 });
      await atGate;
      await assert.rejects(gc(), (error) => error instanceof CollectorBusy);
      release();
      await first;
      // a holder that died: its lease expires, and the next run takes it
      assert.equal(await engine.gcIndex.acquireLease('gc', 'dead-replica', engine.clock.now(), engine.clock.now() + 60_000), true);
      await assert.rejects(gc(), (error) => error instanceof CollectorBusy);
      later(60_001);
      await gc();
    });

    it('a run killed after marking leaves the blobs marked, unlinkable, and the next run finishes their deletion', async () => {
      const repo = repositoryName();
      const orphan = await pushBlob(registry(), repo, randomBytes(64));
      later();
      const killed = engine.replica({
        gc: {
          hooks: {
            async beforeSweep(digests) {
              if (digests.includes(orphan)) throw new Error('killed');
            },
          },
        },
      });
      await assert.rejects(killed.gc!.collect({ graceMs: 0 }), /killed/);
      assert.equal(await stored(orphan), true, 'the bytes are still there');
      // marked: a mount elsewhere cannot link it, and starts an upload instead
      const other = repositoryName();
      const mount = await registry().blobs.mount(other, orphan, repo, actor);
      assert.equal(mount.mounted, false);
      const report = await gc();
      assert.ok(report.resumedBlobs >= 1, JSON.stringify(report));
      assert.equal(await stored(orphan), false);
      assert.equal(await indexed(orphan), false);
    });

    it('the race: a manifest pushed while the collector decides keeps its blobs, or fails cleanly and its retry succeeds', async () => {
      const repo = repositoryName();
      // the client HEADs its blobs (they exist), then the collector reads them as unreferenced...
      const config = json({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') });
      const layer = randomBytes(700);
      await pushBlob(registry(), repo, config);
      await pushBlob(registry(), repo, layer);
      const manifest = manifestOf(config, [layer]);
      later();
      await registry().blobs.stat(repo, sha256(layer));
      let pushed = false;
      const collector = engine.replica({
        gc: {
          hooks: {
            async beforeUnlink(links) {
              // ...and the manifest arrives between the collector's read and its deletion: it is stored,
              // and the collector's re-check, in its own transaction, sees its references
              if (!pushed && links.some((l) => l.repository === repo)) {
                pushed = true;
                await registry().manifests.put(repo, 'v1', manifest, MediaType.OciManifest, [], actor);
              }
            },
          },
        },
      });
      await collector.gc!.collect({ graceMs: 0 });
      assert.equal(pushed, true);
      await pullsWhole(repo, { digest: sha256(manifest), bytes: manifest, blobs: [sha256(config), sha256(layer)], descriptor: { mediaType: MediaType.OciManifest, digest: sha256(manifest), size: manifest.length } });

      // the other order: the collector removed the links first; the manifest is refused with
      // MANIFEST_BLOB_UNKNOWN (nothing stored), and the client's retry uploads and succeeds
      const repo2 = repositoryName();
      const config2 = json({ nonce: randomBytes(8).toString('hex') });
      const layer2 = randomBytes(700);
      await pushBlob(registry(), repo2, config2);
      await pushBlob(registry(), repo2, layer2);
      later();
      const manifest2 = manifestOf(config2, [layer2]);
      let refused = false;
      let uploadRefused = false;
      const sweeper = engine.replica({
        gc: {
          hooks: {
            async beforeSweep(digests) {
              if (!digests.includes(sha256(layer2)) || refused) return;
              await assert.rejects(registry().manifests.put(repo2, 'v1', manifest2, MediaType.OciManifest, [], actor), oci('MANIFEST_BLOB_UNKNOWN'));
              refused = true;
              // an upload of the same bytes finishing now (its commit keeps the stored bytes,
              // which are being deleted) is refused too, rather than linked to bytes about to go
              await assert.rejects(pushBlob(registry(), repo2, layer2), oci('BLOB_UPLOAD_UNKNOWN'));
              uploadRefused = true;
            },
          },
        },
      });
      await sweeper.gc!.collect({ graceMs: 0 });
      assert.equal(refused && uploadRefused, true);
      await assert.rejects(registry().blobs.stat(repo2, sha256(layer2)), oci('BLOB_UNKNOWN'));
      // the retry: the client finds the blobs missing, uploads them, and the manifest is stored
      await pushBlob(registry(), repo2, config2);
      await pushBlob(registry(), repo2, layer2);
      await registry().manifests.put(repo2, 'v1', manifest2, MediaType.OciManifest, [], actor);
      later();
      await gc();
      await pullsWhole(repo2, { digest: sha256(manifest2), bytes: manifest2, blobs: [sha256(config2), sha256(layer2)], descriptor: { mediaType: MediaType.OciManifest, digest: sha256(manifest2), size: manifest2.length } });
    });
  });
}
