import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { MetadataDatabase } from '../metadata/database.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { OciError } from '../oci/errors.js';
import type { RepositoryName } from '../oci/names.js';
import { Registry } from '../registry/registry.js';
import { createMemoryStore } from '../storage/memory-store.js';
import { HubError } from './errors.js';
import { Hub } from './hub.js';
import { PlanService, type PlanProvider } from './plans.js';
import { formatBytes } from './usage.js';

const ADMIN = { name: 'root', admin: true };

async function setupOn(open: () => Promise<MetadataDatabase>) {
  let now = 1_000_000;
  const clock = { now: () => now };
  const database = await open();
  const hub = new Hub(database.db, clock);
  const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
  await hub.accounts.create({ name: 'alice', password: 'correct horse' });
  return { hub, registry, database, advance: (ms: number) => (now += ms) };
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const actor = { account: 'alice' };

async function pushBlob(registry: Registry, repository: string, blob: Buffer): Promise<void> {
  await registry.uploads.monolithic(repository as RepositoryName, sha256(blob), Readable.from([blob]), { length: blob.length }, actor);
}

/** A manifest whose config and layers were pushed first (the layers may be shared with other images). */
async function pushImage(registry: Registry, repository: string, layers: Buffer[], tag = 'latest'): Promise<{ config: Buffer; manifestBytes: number }> {
  const config = json({ architecture: 'amd64', os: 'linux', nonce: randomBytes(4).toString('hex') });
  for (const blob of [config, ...layers]) await pushBlob(registry, repository, blob);
  const manifestBytes = await pushManifest(registry, repository, config, layers, tag);
  return { config, manifestBytes };
}

/** Pushes a manifest of `config` and `layers`; resolves to its size. */
async function pushManifest(registry: Registry, repository: string, config: Buffer, layers: Buffer[], tag = 'latest'): Promise<number> {
  const manifest = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
  });
  await registry.manifests.put(repository as RepositoryName, tag, manifest, 'application/vnd.oci.image.manifest.v1+json', [], actor);
  return manifest.length;
}

const hubError = (kind: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof HubError, String(e));
  assert.equal(e.kind, kind);
  if (message) assert.match(e.message, message);
  return true;
};
const denied = (message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof OciError, String(e));
  assert.equal(e.code, 'DENIED');
  assert.equal(e.status, 403);
  assert.match(e.message, message);
  return true;
};

const FREE_LIMIT = /the free plan allows 1 private repository; alice has 1 — make one public or ask an administrator for the pro plan/;

describe('formatBytes', () => {
  it('counts in decimal units', () => {
    assert.equal(formatBytes(0), '0 bytes');
    assert.equal(formatBytes(999), '999 bytes');
    assert.equal(formatBytes(2_000_000_000), '2 GB');
    assert.equal(formatBytes(2_150_000_000), '2.15 GB');
    assert.equal(formatBytes(50_500_000), '50.5 MB');
  });
});

for (const { name, open, options } of await testDatabases()) {
  describe(`Plans: ${name}`, options, () => {
    const setup = () => setupOn(open);

    it('writes the default plans once, even when replicas start together, and answers free for anyone unknown', async () => {
      const { hub, database } = await setup();
      const other = new PlanService(database.db);
      await Promise.all([hub.plans.ensureDefaults(), other.ensureDefaults(), new PlanService(database.db).list()]);
      const plans = await hub.plans.list();
      assert.deepEqual(plans.map((p) => p.name), ['free', 'pro', 'team']);
      const [free, pro, team] = plans;
      assert.deepEqual(
        { private: free!.privateRepositories, storage: free!.storageBytes, pulls: free!.pullsPerWindow, window: free!.pullWindowSeconds, seats: free!.seats },
        { private: 1, storage: 2_000_000_000, pulls: 100, window: 21_600, seats: 3 },
      );
      assert.equal(pro!.privateRepositories, null);
      assert.ok(pro!.pullsPerWindow! >= 5_000);
      assert.equal(team!.privateRepositories, null);
      assert.deepEqual([...team!.features].sort(), ['organization-tokens', 'retention-policies', 'tag-immutability', 'team-permissions', 'webhooks']);
      assert.equal((await hub.plans.planOf('alice')).name, 'free');
      assert.equal((await hub.plans.planOf('nobody')).name, 'free');
      assert.equal(await hub.plans.enforcedPlanOf('nobody'), undefined, 'no account: no plan limits (open mode)');
      assert.equal(await hub.plans.enforcedPlanOf('library'), undefined, 'official images are not limited');
      assert.equal(await hub.plans.hasFeature('alice', 'webhooks'), false);
      await database.close();
    });

    it('lets an administrator edit a plan, within sane values', async () => {
      const { hub, database } = await setup();
      const edited = await hub.plans.update('free', { privateRepositories: 3, pullsPerWindow: null, features: ['webhooks'], priceLabel: '0 €' });
      assert.equal(edited.privateRepositories, 3);
      assert.deepEqual(await hub.plans.get('free'), edited);
      assert.equal((await hub.plans.planOf('alice')).pullsPerWindow, null, 'null is unlimited');
      assert.equal(await hub.plans.hasFeature('alice', 'webhooks'), true);
      await assert.rejects(hub.plans.update('free', { storageBytes: -1 }), hubError('invalid', /storage_bytes/));
      await assert.rejects(hub.plans.update('free', { pullWindowSeconds: 0 }), hubError('invalid', /pull_window_seconds/));
      await assert.rejects(hub.plans.update('free', { features: ['free-beer'] }), hubError('invalid', /unknown free-beer/));
      await assert.rejects(hub.plans.update('gold', { seats: 1 }), hubError('not_found'));
      await database.close();
    });

    it('assigns plans through the provider: an administrator grants, nobody else, and nothing else is charged', async () => {
      const { hub, database } = await setup();
      await assert.rejects(hub.plans.assign('alice', 'pro', { name: 'alice', admin: false }), hubError('forbidden', /administrator/));
      assert.equal((await hub.plans.planOf('alice')).name, 'free');
      const change = await hub.plans.assign('alice', 'pro', ADMIN);
      assert.equal(change.status, 'granted');
      assert.equal((await hub.plans.planOf('alice')).name, 'pro');
      await assert.rejects(hub.plans.assign('alice', 'gold', ADMIN), hubError('invalid', /free, pro, team/));
      await assert.rejects(hub.plans.assign('nobody', 'pro', ADMIN), hubError('not_found'));

      const asked: string[] = [];
      const checkout: PlanProvider = {
        name: 'checkout',
        async change({ namespace, to }) {
          asked.push(`${namespace}:${to.name}`);
          return { status: 'pending', next: 'https://pay.example/123' };
        },
      };
      const paying = new PlanService(database.db, checkout);
      const pending = await paying.assign('alice', 'team', { name: 'alice', admin: false });
      assert.deepEqual(pending, { status: 'pending', next: 'https://pay.example/123', plan: await hub.plans.get('pro') });
      assert.deepEqual(asked, ['alice:team']);
      assert.equal((await hub.plans.planOf('alice')).name, 'pro', 'nothing changes until the provider settles');
      await paying.apply('alice', 'team');
      assert.equal((await paying.planOf('alice')).name, 'team');
      // hub.plans is another service on the database, as another replica's is: it remembered the
      // billing for BILLING_TTL_MS, and reads it again after that (or when told to forget)
      hub.plans.forget();
      assert.equal((await hub.plans.planOf('alice')).name, 'team');
      await database.close();
    });

    it('limits private repositories created through the API and made private, naming the plan and how to raise it', async () => {
      const { hub, database } = await setup();
      await hub.repositories.create('alice/one', true);
      await hub.repositories.create('alice/open', false);
      await assert.rejects(hub.repositories.create('alice/two', true), hubError('plan_limit', FREE_LIMIT));
      assert.equal((await hub.repositories.visibility('alice/two')).exists, false, 'a refused repository is not created');
      await assert.rejects(hub.repositories.create('alice/one', false), hubError('conflict'));
      await assert.rejects(hub.repositories.setVisibility('alice/open', true), hubError('plan_limit', FREE_LIMIT));
      assert.equal((await hub.repositories.visibility('alice/open')).private, false, 'the change was undone');
      await hub.repositories.setVisibility('alice/one', false);
      await hub.repositories.setVisibility('alice/open', true);
      // unlimited plans, and namespaces that are no account, are not limited
      await hub.plans.assign('alice', 'pro', ADMIN);
      await hub.repositories.create('alice/two', true);
      await hub.repositories.create('alice/three', true);
      await hub.repositories.create('library/secret', true);
      await hub.repositories.create('library/secret2', true);
      await database.close();
    });

    it('refuses a first push that would create a private repository over the limit, before anything is stored', async () => {
      const { hub, registry, database } = await setup();
      await hub.accounts.setDefaultPrivate('alice', true);
      await pushImage(registry, 'alice/first', [Buffer.from('layer one')]);
      assert.deepEqual(await hub.repositories.visibility('alice/first'), { exists: true, private: true });
      await assert.rejects(registry.uploads.start('alice/second' as RepositoryName, actor), denied(FREE_LIMIT));
      await assert.rejects(pushBlob(registry, 'alice/second', Buffer.from('layer two')), denied(FREE_LIMIT));
      assert.equal((await hub.repositories.visibility('alice/second')).exists, false);
      const uploads = await database.db.selectFrom('uploads').select('id').where('repository', '=', 'alice/second').execute();
      assert.deepEqual(uploads, []);
      const index = new RegistryIndex(database.db);
      assert.equal(await index.repositoryExists('alice/second'), false);
      assert.deepEqual(await database.db.selectFrom('blob_links').select('digest').where('repository', '=', 'alice/second').execute(), []);
      // a public default still pushes any number
      await hub.accounts.setDefaultPrivate('alice', false);
      await pushImage(registry, 'alice/second', [Buffer.from('layer two')]);
      assert.deepEqual(await hub.repositories.visibility('alice/second'), { exists: true, private: false });
      await database.close();
    });

    it('after a downgrade keeps the oldest private repositories writable and the others read-only, deleting nothing', async () => {
      const { hub, registry, database, advance } = await setup();
      await hub.accounts.setDefaultPrivate('alice', true);
      await hub.plans.assign('alice', 'pro', ADMIN);
      for (const repository of ['alice/c', 'alice/a', 'alice/b']) {
        await pushImage(registry, repository, [Buffer.from(`layer of ${repository}`)]);
        advance(1000);
      }
      await hub.plans.assign('alice', 'free', ADMIN);
      assert.deepEqual((await hub.limits.usage.of('alice')).readOnly, ['alice/a', 'alice/b']);
      await pushImage(registry, 'alice/c', [Buffer.from('more')], 'v2');
      const readOnly = /alice\/a is read-only: the free plan allows 1 private repository; alice has 3 — make 2 public or ask an administrator for the pro plan/;
      await assert.rejects(registry.uploads.start('alice/a' as RepositoryName, actor), denied(readOnly));
      await assert.rejects(pushManifest(registry, 'alice/a', json({ x: 1 }), []), denied(readOnly));
      const pulled = await registry.manifests.get('alice/a' as RepositoryName, 'latest', undefined, { actor });
      assert.ok(pulled.content.length > 0, 'pulls still work');

      await hub.repositories.setVisibility('alice/c', false);
      assert.deepEqual((await hub.limits.usage.of('alice')).readOnly, ['alice/b'], 'one public: the oldest remaining one is writable');
      await pushImage(registry, 'alice/a', [Buffer.from('again')], 'v2');
      await assert.rejects(registry.uploads.start('alice/b' as RepositoryName, actor), denied(/alice\/b is read-only: .* make one public/));
      await hub.plans.assign('alice', 'pro', ADMIN);
      await pushImage(registry, 'alice/b', [Buffer.from('again b')], 'v2');
      await database.close();
    });

    it('counts every byte a namespace holds (distinct linked blobs, manifests, open uploads) and refuses what would go over its quota', async () => {
      const { hub, registry, database } = await setup();
      const storage = () => hub.limits.usage.storageBytes('alice');
      const shared = randomBytes(400);
      const first = await pushImage(registry, 'alice/a', [shared]);
      const second = await pushImage(registry, 'alice/b', [shared]);
      await pushImage(registry, 'alicex/other', [randomBytes(300)]);
      const used = shared.length + first.config.length + second.config.length + first.manifestBytes + second.manifestBytes;
      assert.equal(await storage(), used, 'a layer shared by two repositories counts once; manifests count their bytes');
      // re-tagging adds nothing
      await pushManifest(registry, 'alice/b', second.config, [shared], 'again');
      assert.equal(await storage(), used);

      await hub.plans.update('free', { storageBytes: used + 1000 });
      // a blob counts once uploaded, whether a manifest names it or not
      await pushBlob(registry, 'alice/c', randomBytes(600));
      assert.equal(await storage(), used + 600);
      await assert.rejects(pushBlob(registry, 'alice/c', randomBytes(600)), denied(/past the .* of storage of the free plan/));
      // the same manifest in another repository of the namespace adds nothing: it is held already
      for (const blob of [second.config, shared]) await registry.blobs.mount('alice/c' as RepositoryName, sha256(blob), 'alice/b', actor);
      await pushManifest(registry, 'alice/c', second.config, [shared]);
      assert.equal(await storage(), used + 600);
      // one whose own bytes would go over is refused
      await hub.plans.update('free', { storageBytes: (await storage()) + 10 });
      const config = json({ architecture: 'amd64', os: 'linux', n: 1 });
      await hub.plans.update('free', { storageBytes: null });
      await pushBlob(registry, 'alice/c', config);
      await hub.plans.update('free', { storageBytes: (await storage()) + 10 });
      await assert.rejects(pushManifest(registry, 'alice/c', config, [shared]), denied(/this manifest adds .* the free plan allows .* — delete images or ask an administrator for the pro plan/));
      await hub.plans.update('free', { storageBytes: (await storage()) + 500 });

      // an upload streaming past what is left is stopped, and its session removed
      const { uploadId } = await registry.uploads.start('alice/d' as RepositoryName, actor);
      await assert.rejects(
        registry.uploads.append('alice/d' as RepositoryName, uploadId, Readable.from([randomBytes(300), randomBytes(300)]), {}),
        denied(/past the .* of storage of the free plan/),
      );
      await assert.rejects(registry.uploads.status('alice/d' as RepositoryName, uploadId), (e: unknown) => e instanceof OciError && e.code === 'BLOB_UPLOAD_UNKNOWN');
      // a declared length over it is refused before a byte is stored
      const next = await registry.uploads.start('alice/d' as RepositoryName, actor);
      await assert.rejects(registry.uploads.append('alice/d' as RepositoryName, next.uploadId, Readable.from([randomBytes(501)]), { length: 501 }), denied(/storage/));
      await assert.rejects(pushBlob(registry, 'alice/d', randomBytes(501)), denied(/storage/));
      // within it, uploads work
      await pushBlob(registry, 'alice/d', randomBytes(400));

      // once over (an administrator lowered the quota), an upload is refused when it starts
      await hub.plans.update('free', { storageBytes: 100 });
      await assert.rejects(registry.uploads.start('alice/d' as RepositoryName, actor), denied(/alice has used .* of the 100 bytes of storage of the free plan/));
      await hub.plans.update('free', { storageBytes: null });
      await pushImage(registry, 'alice/e', [randomBytes(2000)]);
      assert.ok((await hub.limits.usage.storageBytes('alice')) > 2000);
      await database.close();
    });
  });
}
