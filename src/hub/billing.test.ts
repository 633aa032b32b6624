// Organisations are no way around a plan: an organisation without a plan of its own is billed to
// the user who created it, and draws on that user's allowance (private repositories, storage,
// seats, features), counted across the user's namespace and every organisation billed to it.
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

const ADMIN = { name: 'root', admin: true };
const PASSWORD = 'correct horse battery';

async function setupOn(open: () => Promise<MetadataDatabase>) {
  const clock = { now: () => 1_000_000 };
  const database = await open();
  const hub = new Hub(database.db, clock);
  const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
  for (const name of ['alice', 'bob', 'mark', 'otto', 'wade']) await hub.accounts.create({ name, password: PASSWORD });
  return { hub, registry, database };
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** An image of one layer of `size` random bytes, pushed through the registry engine (the push gate decides). */
async function pushImage(registry: Registry, repository: string, size: number): Promise<void> {
  const name = repository as RepositoryName;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(4).toString('hex') }));
  const layer = randomBytes(size);
  for (const blob of [config, layer]) await registry.uploads.monolithic(name, sha256(blob), Readable.from([blob]), { length: blob.length }, { account: 'alice' });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  await registry.manifests.put(name, 'latest', manifest, 'application/vnd.oci.image.manifest.v1+json', [], { account: 'alice' });
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
  assert.match(e.message, message);
  return true;
};

for (const { name, open, options } of await testDatabases()) {
  describe(`Billing of organisations: ${name}`, options, () => {
    const setup = () => setupOn(open);

    it("bills an organisation to its creator: one private repository between a free user and all its organisations", async () => {
      const { hub, database } = await setup();
      await hub.organizations.create('acme', 'alice');
      await hub.organizations.create('globex', 'alice');
      assert.equal((await hub.organizations.get('acme'))?.billedTo, 'alice');
      const usage = await hub.limits.usage.of('acme');
      assert.equal(usage.billedTo, 'alice');
      assert.equal(usage.plan.name, 'free');
      assert.deepEqual(usage.namespaces, ['acme', 'alice', 'globex']);

      await hub.repositories.create('acme/secret', true);
      const shared = /^(?:(?:acme|globex) is billed to alice: )?the free plan allows 1 private repository; alice and the organisations billed to it have 1 — make one public or ask an administrator for the pro plan$/;
      await assert.rejects(hub.repositories.create('globex/secret', true), hubError('plan_limit', /^globex is billed to alice: the free plan allows 1 private repository; alice and the organisations billed to it have 1 — /));
      await assert.rejects(hub.repositories.create('alice/secret', true), hubError('plan_limit', shared));
      assert.equal((await hub.repositories.visibility('globex/secret')).exists, false, 'a refused repository is not created');
      // public repositories are not limited
      await hub.repositories.create('globex/open', false);
      await assert.rejects(hub.repositories.setVisibility('globex/open', true), hubError('plan_limit', shared));
      assert.equal((await hub.limits.usage.of('alice')).privateRepositories, 1);

      // a user who created no organisation keeps an allowance of its own
      await hub.repositories.create('bob/secret', true);
      assert.deepEqual((await hub.limits.usage.of('bob')).namespaces, ['bob']);
      await database.close();
    });

    it('counts the storage of the creator and its organisations together, and names whose allowance a refusal is', async () => {
      const { hub, registry, database } = await setup();
      await hub.organizations.create('acme', 'alice');
      await pushImage(registry, 'alice/app', 1000);
      await pushImage(registry, 'acme/app', 2000);
      const alone = await hub.limits.usage.storageBytes('alice');
      const org = await hub.limits.usage.storageBytes('acme');
      assert.ok(alone > 1000 && org > 2000);
      assert.equal((await hub.limits.usage.of('acme')).storageBytes, alone + org);
      assert.equal((await hub.limits.usage.of('alice')).storageBytes, alone + org);

      await hub.plans.update('free', { storageBytes: alone + org + 500 });
      await assert.rejects(
        pushImage(registry, 'acme/big', 1000),
        denied(/^acme is billed to alice: this upload would take alice and the organisations billed to it past the .* of storage of the free plan — delete images or ask an administrator for the pro plan$/),
      );
      await hub.plans.update('free', { storageBytes: alone + org });
      await assert.rejects(registry.uploads.start('alice/other' as RepositoryName, { account: 'alice' }), denied(/^alice and the organisations billed to it have used .* of the .* of storage of the free plan/));
      await database.close();
    });

    it('takes seats and features from the creator’s plan; a plan granted to the organisation makes it billed to itself', async () => {
      const { hub, database } = await setup();
      await hub.organizations.create('acme', 'alice');
      // the free plan's three seats: the creator and two teammates
      await hub.organizations.addMember('acme', 'bob');
      await hub.organizations.addMember('acme', 'mark');
      await assert.rejects(hub.organizations.addMember('acme', 'otto'), hubError('plan_limit', /acme has all 3 seats of its plan "free" \(the plan of alice, which acme is billed to\) taken/));
      await assert.rejects(hub.teams.create('acme', 'devs'), hubError('plan_limit', /^a team needs the "team-permissions" feature, which the free plan of alice, which acme is billed to, does not include: ask an administrator for the team plan$/));

      // the creator's upgrade reaches its organisations
      await hub.plans.assign('alice', 'team', ADMIN);
      assert.equal((await hub.plans.planOf('acme')).name, 'team');
      await hub.organizations.addMember('acme', 'otto');
      await hub.teams.create('acme', 'devs');
      await hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:read'] });
      await hub.plans.assign('alice', 'free', ADMIN);

      // an administrator grants acme a plan: billed to itself, with an allowance of its own
      await hub.repositories.create('alice/secret', true);
      await hub.plans.assign('acme', 'pro', ADMIN);
      assert.equal((await hub.organizations.get('acme'))?.billedTo, null);
      assert.equal((await hub.limits.usage.of('acme')).billedTo, 'acme');
      assert.deepEqual((await hub.limits.usage.of('alice')).namespaces, ['alice']);
      await hub.repositories.create('acme/one', true);
      await hub.repositories.create('acme/two', true);
      // and going back to free keeps it billed to itself: an administrator decided
      await hub.plans.assign('acme', 'free', ADMIN);
      assert.equal((await hub.limits.usage.of('acme')).billedTo, 'acme');
      await database.close();
    });

    it('bills an organisation to itself once the account it was billed to is deleted', async () => {
      const { hub, registry, database } = await setup();
      await hub.organizations.create('acme', 'alice');
      await hub.organizations.addMember('acme', 'bob', 'owner');
      await hub.deleteAccount('alice', registry);
      assert.equal((await hub.organizations.get('acme'))?.billedTo, null);
      assert.equal((await hub.limits.usage.of('acme')).billedTo, 'acme');
      await hub.repositories.create('acme/secret', true);
      await database.close();
    });
  });
}
