/**
 * The replication queue and rules in SQL, on SQLite and PostgreSQL: pushes merged into the run that
 * waits, one claim per run whatever races, a dead replica's run taken over, outcomes written by the
 * claim's holder only, retries that wait, and a scheduled rule taken by one replica.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SecretBox } from '../../auth/sealed-secret.js';
import type { MetadataDatabase } from '../../metadata/database.js';
import { testDatabases } from '../../metadata/postgres.testing.js';
import { emptyReport } from './copier.js';
import { ReplicationRules } from './rules.js';
import { ReplicationRuns } from './runs.js';

class Clock {
  t = Date.parse('2030-01-01T00:00:00Z');
  now(): number {
    return this.t;
  }
}

for (const database of await testDatabases()) {
  describe(`replication runs and rules (${database.name})`, database.options, () => {
    let db: MetadataDatabase;
    let runs: ReplicationRuns;
    let rules: ReplicationRules;
    const clock = new Clock();
    const box = new SecretBox(randomBytes(32));

    before(async () => {
      db = await database.open();
      runs = new ReplicationRuns(db.db, clock);
      rules = new ReplicationRules(db.db, clock, async () => box);
    });
    after(() => db?.close());

    it('merges pushes into the run of the same rule and repository that waits, and no other', async () => {
      const first = await runs.enqueue('merge', 'push', { repository: 'alice/app', tags: ['v1'], digests: [] });
      const second = await runs.enqueue('merge', 'push', { repository: 'alice/app', tags: ['v2', 'v1'], digests: ['sha256:aa'] });
      assert.equal(second.id, first.id);
      assert.deepEqual((await runs.get(first.id))!.scope, { repository: 'alice/app', tags: ['v1', 'v2'], digests: ['sha256:aa'] });
      const other = await runs.enqueue('merge', 'push', { repository: 'alice/other', tags: ['v1'], digests: [] });
      assert.notEqual(other.id, first.id);
      const manual = await runs.enqueue('merge', 'manual', null);
      assert.notEqual(manual.id, first.id);
      // once a replica took it, a push starts a run of its own
      assert.ok(await runs.claim(first.id, 'replica-a', clock.now() + 60_000));
      const third = await runs.enqueue('merge', 'push', { repository: 'alice/app', tags: ['v3'], digests: [] });
      assert.notEqual(third.id, first.id);
    });

    it('gives a run to one claimant, and takes it over when its claim ran out', async () => {
      const run = await runs.enqueue('claims', 'manual', null);
      const claims = await Promise.all(['a', 'b', 'c', 'd'].map((who) => runs.claim(run.id, who, clock.now() + 60_000)));
      assert.equal(claims.filter(Boolean).length, 1);
      assert.equal(claims.find(Boolean)!.attempts, 1);
      assert.ok(!(await runs.due(100)).includes(run.id), 'held');
      clock.t += 61_000;
      assert.ok((await runs.due(100)).includes(run.id), 'its replica died');
      const taken = await runs.claim(run.id, 'e', clock.now() + 60_000);
      assert.equal(taken?.attempts, 2);
      assert.equal(taken?.status, 'running');
    });

    it('writes the outcome of the claim’s holder only; a retry waits for its time, a last failure stays', async () => {
      const run = await runs.enqueue('outcome', 'manual', null);
      await runs.claim(run.id, 'holder', clock.now() + 60_000);
      const report = { ...emptyReport(), manifestsCopied: 3, bytesCopied: 2 ** 40 };
      await runs.finish(run.id, 'someone else', { report: { ...report, manifestsCopied: 99 } });
      assert.equal((await runs.get(run.id))!.status, 'running');
      await runs.finish(run.id, 'holder', { report, error: 'target down', retryAt: clock.now() + 30_000 });
      let current = (await runs.get(run.id))!;
      assert.deepEqual([current.status, current.error, current.manifestsCopied, current.bytesCopied, current.finishedAt], ['queued', 'target down', 3, 2 ** 40, null]);
      assert.ok(!(await runs.due(100)).includes(run.id), 'not before its time');
      assert.equal(await runs.claim(run.id, 'early', clock.now() + 60_000), undefined);
      clock.t += 30_000;
      assert.equal((await runs.claim(run.id, 'retry', clock.now() + 60_000))?.attempts, 2);
      await runs.finish(run.id, 'retry', { report, error: 'still down' });
      current = (await runs.get(run.id))!;
      assert.equal(current.status, 'failed');
      assert.equal(current.finishedAt, clock.now());
      assert.ok(!(await runs.due(100)).includes(run.id));
    });

    it('lists runs newest first, by rule and status', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        clock.t += 1;
        ids.push((await runs.enqueue('listing', 'manual', null)).id);
      }
      await runs.claim(ids[0]!, 'x', clock.now() + 1);
      await runs.finish(ids[0]!, 'x', { report: emptyReport() });
      const page = await runs.page({ rule: 'listing', offset: 0, limit: 2 });
      assert.equal(page.count, 3);
      assert.deepEqual(page.runs.map((r) => r.id), [ids[2], ids[1]]);
      assert.deepEqual((await runs.page({ rule: 'listing', status: 'succeeded', offset: 0, limit: 10 })).runs.map((r) => r.id), [ids[0]]);
    });

    it('keeps rules with sealed credentials, and gives a due schedule to one replica', async () => {
      const rule = await rules.create('nightly', {
        direction: 'pull',
        url: 'https://registry.example.org/',
        repositories: ['library/*'],
        tags: ['v1.*'],
        destination: 'mirror',
        intervalMs: 3_600_000,
        credentials: { username: 'sync', password: 'pull secret' },
      });
      assert.equal(rule.url, 'https://registry.example.org');
      assert.equal(rule.nextRunAt, clock.now(), 'a scheduled rule runs first at once');
      const row = await db.db.selectFrom('replication_rules').select('password_sealed').where('name', '=', 'nightly').executeTakeFirstOrThrow();
      assert.ok(row.password_sealed && !row.password_sealed.includes('pull secret'));
      assert.deepEqual(await rules.credentialsOf('nightly'), { username: 'sync', password: 'pull secret' });

      const [a, b] = await Promise.all([rules.takeDue(clock.now()), rules.takeDue(clock.now())]);
      assert.deepEqual([...a!, ...b!].map((r) => r.name), ['nightly']);
      assert.deepEqual(await rules.takeDue(clock.now() + 3_599_000), []);
      assert.deepEqual((await rules.takeDue(clock.now() + 3_600_000)).map((r) => r.name), ['nightly']);

      await rules.update('nightly', { enabled: false });
      assert.deepEqual(await rules.takeDue(clock.now() + 10 * 3_600_000), []);
      await assert.rejects(rules.create('nightly', { direction: 'push', url: 'https://x.example', repositories: ['a/b'] }), /exists/);
      await assert.rejects(rules.create('bad', { direction: 'push', url: 'https://x.example', repositories: ['Bad Name'] }), /not a repository pattern/);
      await assert.rejects(rules.create('bad', { direction: 'push', url: 'https://x.example', repositories: ['a/*'], intervalMs: 1000 }), /at most every minute/);
      await assert.rejects(rules.create('bad', { direction: 'push', url: 'ftp://x.example', repositories: ['a/*'] }), /http/);
      await runs.enqueue('nightly', 'manual', null);
      await rules.remove('nightly');
      assert.deepEqual((await runs.page({ rule: 'nightly', offset: 0, limit: 10 })).runs.map((r) => [r.status, r.error]), [['failed', 'the rule was removed']]);
    });
  });
}
