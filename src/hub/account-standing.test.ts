// A deleted account loses every right at once, whatever tokens it holds: the per-request answer
// of the policy, cached for about a second (forgotten at once by the replica that deletes), and
// nothing created under its namespace by any path.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { testDatabases } from '../metadata/postgres.testing.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { OciError } from '../oci/errors.js';
import type { RepositoryName } from '../oci/names.js';
import { Registry } from '../registry/registry.js';
import { createMemoryStore } from '../storage/memory-store.js';
import { STANDING_TTL_MS } from './account-standing.js';
import { HubError } from './errors.js';
import { Hub } from './hub.js';
import { BILLING_TTL_MS } from './plans.js';

const PASSWORD = 'correct horse battery';
const alice = { kind: 'account', name: 'alice', admin: false } as const;

for (const { name, open, options } of await testDatabases()) {
  describe(`Deleted accounts: ${name}`, options, () => {
    /** Two replicas over one database and one clock that the test moves on. */
    const replicas = async () => {
      const database = await open();
      const clock = { at: 1_000_000, now: () => clock.at };
      return { database, clock, hub: new Hub(database.db, clock), other: new Hub(database.db, clock) };
    };

    it('refuses the tokens of a deleted account at once on this replica, and within a second on the others', async () => {
      // another replica over the same database: it learns of the deletion from its cache's expiry
      const { database, clock, hub, other } = await replicas();
      const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
      await hub.accounts.create({ name: 'alice', password: PASSWORD });
      assert.equal(await hub.policy.refusal(alice), undefined);
      assert.equal(await other.policy.refusal(alice), undefined);
      assert.equal(await hub.policy.refusal({ kind: 'anonymous' }), undefined);

      await hub.deleteAccount('alice', registry);
      assert.deepEqual(await hub.policy.refusal(alice), { kind: 'gone', message: 'the account "alice" no longer exists' });
      assert.equal(await other.policy.refusal(alice), undefined, 'one query per account and second: the other replica still has its answer');
      clock.at += STANDING_TTL_MS;
      assert.equal((await other.policy.refusal(alice))?.kind, 'gone');
      assert.equal((await hub.policy.refusal({ kind: 'account', name: 'nobody', admin: false }))?.kind, 'gone');
      await database.close();
    });

    it('a plan set on one replica applies there at once, and on the others within BILLING_TTL_MS', async () => {
      const { database, clock, hub, other } = await replicas();
      await hub.accounts.create({ name: 'alice', password: PASSWORD });
      await hub.organizations.create('acme', 'alice');
      assert.equal((await other.plans.billingOf('acme'))?.plan.name, 'free');
      assert.deepEqual(await other.plans.billedNamespaces('alice'), ['acme', 'alice']);
      await hub.plans.assign('acme', 'team', { name: 'admin', admin: true });
      assert.deepEqual(await hub.plans.billingOf('acme'), { payer: 'acme', plan: await hub.plans.get('team') });
      assert.deepEqual(await hub.plans.billedNamespaces('alice'), ['alice']);
      assert.equal((await other.plans.billingOf('acme'))?.plan.name, 'free', 'the other replica still has its answer');
      clock.at += BILLING_TTL_MS;
      assert.equal((await other.plans.billingOf('acme'))?.plan.name, 'team');
      assert.deepEqual(await other.plans.billedNamespaces('alice'), ['alice']);
      // an account that does not exist is not remembered: created on another replica, it counts at once
      assert.equal(await other.plans.billingOf('bob'), undefined);
      await hub.accounts.create({ name: 'bob', password: PASSWORD });
      assert.equal((await other.plans.billingOf('bob'))?.plan.name, 'free');
      await database.close();
    });

    it('creates nothing under a deleted namespace: no push, no mount, no repository through the API', async () => {
      const database = await open();
      const clock = { now: () => 1_000_000 };
      const hub = new Hub(database.db, clock);
      const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
      await hub.accounts.create({ name: 'alice', password: PASSWORD });
      await hub.accounts.create({ name: 'bob', password: PASSWORD });
      const blob = Buffer.from('a layer');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      await registry.uploads.monolithic('bob/app' as RepositoryName, digest, Readable.from([blob]), { length: blob.length }, { account: 'bob' });
      await hub.deleteAccount('alice', registry);

      const gone = /the namespace "alice" was deleted: nothing can be created in it/;
      const denied = (e: unknown) => e instanceof OciError && e.code === 'DENIED' && gone.test(e.message);
      await assert.rejects(registry.uploads.start('alice/app' as RepositoryName, { account: 'alice' }), denied);
      await assert.rejects(registry.uploads.monolithic('alice/app' as RepositoryName, digest, Readable.from([blob]), { length: blob.length }, { account: 'alice' }), denied);
      await assert.rejects(registry.blobs.mount('alice/app' as RepositoryName, digest, 'bob/app', { account: 'alice' }), denied);
      await assert.rejects(hub.repositories.create('alice/app', false), (e: unknown) => e instanceof HubError && e.kind === 'forbidden' && gone.test(e.message));
      assert.equal((await hub.repositories.visibility('alice/app')).exists, false);
      assert.equal(await new RegistryIndex(database.db).repositoryExists('alice/app'), false);
      await database.close();
    });
  });
}
