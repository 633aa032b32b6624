// Retention policies over SQLite and PostgreSQL (docs/retention.md): what a run keeps and deletes
// (keep_last, pulled within D days, a pattern, immutable tags), a namespace's policy inherited by
// its repositories without one, each deletion through the registry (its outbox event with the
// reason, an audit entry), a tag pushed again meanwhile kept, the plan feature, the lease, and the
// schedule.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MetadataDatabase } from '../../metadata/database.js';
import { Leases } from '../../metadata/leases.js';
import { testDatabases } from '../../metadata/postgres.testing.js';
import { RegistryIndex } from '../../metadata/registry-index.js';
import type { RepositoryName } from '../../oci/names.js';
import { Registry } from '../../registry/registry.js';
import { createMemoryStore } from '../../storage/memory-store.js';
import { pushImage } from '../../../test/support/images.js';
import { HubError } from '../errors.js';
import { Hub } from '../hub.js';
import { RetentionBusy } from './retention.js';
import { RetentionSchedule } from './schedule.js';

const DAY = 24 * 3600_000;
const PASSWORD = 'correct horse battery';
const none = { keepLast: null, keepPulledDays: null, keepPattern: null };

for (const database of await testDatabases()) {
  describe(`retention policies (${database.name})`, database.options, () => {
    let db: MetadataDatabase;
    let hub: Hub;
    let registry: Registry;
    let now = Date.parse('2030-01-01T00:00:00Z');
    const clock = { now: () => now };

    const tagsOf = async (repository: string) =>
      (await db.db.selectFrom('tags').select('name').where('repository', '=', repository).orderBy('name').execute()).map((r) => r.name);
    /** pushes each tag a day after the previous one */
    const pushTags = async (repository: string, tags: string[]) => {
      for (const tag of tags) {
        now += DAY;
        await pushImage(registry, repository, tag);
      }
    };

    before(async () => {
      db = await database.open();
      hub = new Hub(db.db, clock);
      registry = new Registry({ index: new RegistryIndex(db.db), store: createMemoryStore(), clock, gate: hub.pushGate });
      for (const name of ['alice', 'bob']) await hub.accounts.create({ name, password: PASSWORD });
      await hub.plans.apply('alice', 'team');
      await pushTags('alice/app', ['t1', 't2', 't3', 't4', 'v1']);
      await pushTags('alice/other', ['keep-me', 'old', 'new']);
      await pushTags('bob/app', ['a', 'b']);
    });
    after(() => db?.close());

    it('a policy needs a rule and the plan feature', async () => {
      await assert.rejects(hub.retention.set('repository', 'alice/app', none, 'alice'), (e: unknown) => e instanceof HubError && e.kind === 'invalid');
      await assert.rejects(hub.retention.set('repository', 'alice/app', { ...none, keepPattern: '/(/' }, 'alice'), /keep_pattern: invalid regular expression/);
      await assert.rejects(hub.retention.set('namespace', 'bob', { ...none, keepLast: 1 }, 'bob'), (e: unknown) => e instanceof HubError && e.kind === 'plan_limit' && /"retention-policies" feature/.test(e.message));
    });

    it('a dry run says what would go and why, and changes nothing; a run deletes it through the registry', async () => {
      await hub.immutability.add('alice/app', 'v*', 'alice');
      await hub.retention.set('repository', 'alice/app', { ...none, keepLast: 2 }, 'alice');
      const dry = await hub.retention.run('alice/app', registry, { dryRun: true, trigger: 'api' });
      assert.equal(dry.dryRun, true);
      const [plan] = dry.repositories;
      assert.deepEqual(plan!.kept.map((t) => [t.tag, t.rule]), [['v1', 'immutable'], ['t4', 'keep_last']]);
      assert.deepEqual(plan!.deleted.map((t) => t.tag), ['t3', 't2', 't1']);
      assert.match(plan!.deleted[0]!.reason, /not among the 2 most recently pushed \(#3\)/);
      assert.deepEqual(await tagsOf('alice/app'), ['t1', 't2', 't3', 't4', 'v1']);

      const outboxBefore = await db.db.selectFrom('outbox').select('id').where('type', '=', 'tag.deleted').execute();
      const done = await hub.retention.run('alice/app', registry, { trigger: 'api', by: 'alice' });
      assert.deepEqual(done.repositories[0]!.deleted.map((t) => t.tag), ['t3', 't2', 't1']);
      assert.deepEqual(await tagsOf('alice/app'), ['t4', 'v1']);
      // each deletion: the registry's tag.deleted event, with the reason, and an audit entry
      const events = await db.db.selectFrom('outbox').select(['id', 'payload']).where('type', '=', 'tag.deleted').execute();
      const fresh = events.filter((e) => !outboxBefore.some((b) => b.id === e.id)).map((e) => JSON.parse(e.payload) as Record<string, unknown>);
      assert.deepEqual(fresh.map((p) => p.tag).sort(), ['t1', 't2', 't3']);
      assert.ok(fresh.every((p) => p.repository === 'alice/app' && p.actor === null && /^the retention policy of alice\/app: not among the 2 most recently pushed/.test(String(p.reason))));
      const audit = await db.db.selectFrom('audit_events').selectAll().where('action', '=', 'tag.deleted').orderBy('target').execute();
      assert.deepEqual(audit.map((a) => [a.target, a.via, a.actor, a.namespace]), [
        ['alice/app:t1', 'retention', null, 'alice'],
        ['alice/app:t2', 'retention', null, 'alice'],
        ['alice/app:t3', 'retention', null, 'alice'],
      ]);
      assert.match(audit[0]!.details!, /"trigger":"api"/);
      assert.match(audit[0]!.details!, /"by":"alice"/);
      // the manifests stay, untagged (garbage collection reclaims them with --untagged)
      assert.equal((await db.db.selectFrom('manifests').select('digest').where('repository', '=', 'alice/app').execute()).length, 5);
    });

    it('a namespace’s policy applies to its repositories without one of their own', async () => {
      await hub.retention.set('namespace', 'alice', { ...none, keepPattern: 'keep-*', keepPulledDays: 30 }, 'alice');
      const other = await hub.retention.ofRepository('alice/other');
      assert.equal(other.own, undefined);
      assert.equal(other.effective?.scope, 'namespace');
      assert.equal((await hub.retention.ofRepository('alice/app')).effective?.scope, 'repository');
      // 'old' was pulled yesterday; 'new' was pushed 40 days ago and never pulled
      now += 40 * DAY;
      await db.db.insertInto('tag_pulls').values({ repository: 'alice/other', tag: 'old', pulls: 1, last_pulled_at: now - DAY }).execute();
      const report = await hub.retention.run('alice', registry, { trigger: 'cli' });
      assert.deepEqual(report.repositories.map((r) => [r.repository, r.policyFrom]), [['alice/app', 'repository'], ['alice/other', 'namespace']]);
      const otherRun = report.repositories[1]!;
      assert.deepEqual(otherRun.kept.map((t) => [t.tag, t.rule]), [['old', 'keep_pulled_days'], ['keep-me', 'keep_pattern']]);
      assert.deepEqual(otherRun.deleted.map((t) => t.tag), ['new']);
      assert.deepEqual(await tagsOf('alice/other'), ['keep-me', 'old']);
      // its own policy removed, alice/app inherits the namespace's
      assert.equal(await hub.retention.unset('repository', 'alice/app'), true);
      assert.equal(await hub.retention.unset('repository', 'alice/app'), false);
      assert.equal((await hub.retention.ofRepository('alice/app')).effective?.target, 'alice');
    });

    it('a tag pushed again after the run decided is kept, as changed', async () => {
      const name = 'alice/app' as RepositoryName;
      const before = await db.db.selectFrom('tags').select(['digest', 'updated_at']).where('repository', '=', name).where('name', '=', 't4').executeTakeFirstOrThrow();
      now += 1000;
      await pushImage(registry, name, 't4');
      await assert.rejects(registry.manifests.delete(name, 't4', {}, { ifUnchanged: { digest: before.digest, updatedAt: Number(before.updated_at) } }), /MANIFEST_UNKNOWN|unknown/);
      assert.ok((await tagsOf(name)).includes('t4'));
    });

    it('without the feature a run by hand is refused and the schedule skips the namespace', async () => {
      // a policy set while bob's plan had the feature stays after a downgrade
      await db.db.insertInto('retention_policies').values({ scope: 'namespace', target: 'bob', keep_last: 1, keep_pulled_days: null, keep_pattern: null, updated_at: now, updated_by: 'bob' }).execute();
      await assert.rejects(hub.retention.run('bob/app', registry, { trigger: 'api' }), (e: unknown) => e instanceof HubError && e.kind === 'plan_limit');
      const all = await hub.retention.run('*', registry, { trigger: 'cli', skipWithoutFeature: true, dryRun: true });
      assert.deepEqual(all.skipped, ['bob/app']);
      assert.deepEqual(await tagsOf('bob/app'), ['a', 'b']);
      await assert.rejects(hub.retention.run('bob/nothing', registry, { trigger: 'api' }), (e: unknown) => e instanceof HubError && e.kind === 'conflict');
    });

    it('one run at a time: a run while another holds the lease is refused; a dry run is not', async () => {
      const leases = new Leases(db.db);
      assert.equal(await leases.acquire('retention', 'other-replica', now, now + 60_000), true);
      await assert.rejects(hub.retention.run('alice', registry, { trigger: 'api' }), RetentionBusy);
      await hub.retention.run('alice', registry, { trigger: 'api', dryRun: true });
      await leases.release('retention', 'other-replica');
      // released after a run: the next one takes it
      await hub.retention.run('alice', registry, { trigger: 'api' });
      assert.equal(await leases.acquire('retention', 'after', now, now + 1), true);
      await leases.release('retention', 'after');
    });

    it('the schedule runs every policy once an interval passed since the latest run of any replica', async () => {
      await pushTags('alice/other', ['n1', 'n2']);
      now += 40 * DAY;
      const schedule = new RetentionSchedule(hub.retention, registry, clock, { intervalMs: DAY });
      assert.equal(await schedule.tick(), undefined, 'no run recorded: a whole interval from the start');
      now += DAY;
      const report = await schedule.tick();
      assert.ok(report);
      assert.deepEqual(report.skipped, ['bob/app']);
      assert.deepEqual(await tagsOf('alice/other'), ['keep-me']);
      assert.equal(await hub.retention.lastRunStartedAt(), now);
      assert.equal(await schedule.tick(), undefined, 'not due again yet');
      const runs = await db.db.selectFrom('retention_runs').selectAll().where('scope', '=', '*').execute();
      assert.deepEqual(runs.map((r) => [r.trigger, r.status]), [['schedule', 'succeeded']]);
      await schedule.stop();
    });

    it('a repository’s policy goes with the repository, a namespace’s with the account', async () => {
      await hub.retention.set('repository', 'alice/other', { ...none, keepLast: 5 }, 'alice');
      await hub.deleteRepository('alice/other', registry);
      assert.equal(await hub.retention.get('repository', 'alice/other'), undefined);
      assert.ok(await hub.retention.get('namespace', 'alice'));
      await hub.deleteAccount('alice', registry);
      assert.deepEqual(await db.db.selectFrom('retention_policies').select('target').where('target', 'like', 'alice%').execute(), []);
    });
  });
}
