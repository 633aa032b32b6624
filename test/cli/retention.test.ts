// `pier retention set|show|unset|run` on the data directory of a running server (docs/retention.md):
// a namespace's policy, a repository's own, what a dry run and a run print, and one-line errors.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createUser, startApiServer, type ApiServer } from '../support/api.js';
import { runPier } from '../support/cli.js';
import { pushImage } from '../support/images.js';

describe('pier retention', () => {
  let server: ApiServer;
  const pier = (...args: string[]) => runPier(['retention', ...args, '--data', server.dataDir]);
  const tagsOf = async (repository: string) =>
    (await server.database.db.selectFrom('tags').select('name').where('repository', '=', repository).orderBy('name').execute()).map((r) => r.name);

  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
    await createUser(server, 'bob');
    await server.hub.plans.apply('alice', 'team');
    for (const tag of ['v1', 'old', 'mid', 'new']) {
      await pushImage(server.registry, 'alice/app', tag);
      await sleep(5);
    }
    await pushImage(server.registry, 'bob/app', 'latest');
  });
  after(() => server.stop());

  it('sets a namespace’s policy, which a repository inherits; shows both', async () => {
    const set = await pier('set', 'alice', '--keep-last', '1', '--keep-pattern', 'v*');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'alice: keep the 1 most recently pushed, tags matching v*\n');
    const show = await pier('show', 'alice/app');
    assert.equal(show.stdout, 'alice/app: keep the 1 most recently pushed, tags matching v* (inherited from alice)\n');
    const own = await pier('set', 'alice/app', '--keep-last', '2', '--keep-pulled-days', '30');
    assert.equal(own.stdout, 'alice/app: keep the 2 most recently pushed, tags pulled within 30 days\n');
    assert.equal((await pier('unset', 'alice/app')).code, 0);
    assert.equal((await pier('show', 'alice/app')).stdout, 'alice/app: keep the 1 most recently pushed, tags matching v* (inherited from alice)\n');
  });

  it('a dry run prints what would go and what stays, and why; a run deletes it', async () => {
    const dry = await pier('run', 'alice', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      [
        'dry run: alice/app (policy of its namespace): would delete 2 tags, kept 2',
        '  - mid  not among the 1 most recently pushed (#2); does not match "v*"',
        '  - old  not among the 1 most recently pushed (#3); does not match "v*"',
        `  + new  among the 1 most recently pushed (#1, pushed ${new Date().toISOString().slice(0, 10)})`,
        '  + v1  matches "v*"',
        '',
      ].join('\n'),
    );
    assert.deepEqual(await tagsOf('alice/app'), ['mid', 'new', 'old', 'v1']);
    const run = await pier('run', '--json');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { dryRun: boolean; repositories: { deleted: { tag: string }[] }[] };
    assert.equal(report.dryRun, false);
    assert.deepEqual(report.repositories[0]!.deleted.map((t) => t.tag), ['mid', 'old']);
    assert.deepEqual(await tagsOf('alice/app'), ['new', 'v1']);
    const audit = await server.database.db.selectFrom('audit_events').select(['action', 'via', 'target']).where('action', 'in', ['tag.deleted', 'retention.run']).orderBy('target').execute();
    assert.deepEqual(audit.map((a) => [a.action, a.via, a.target]), [['retention.run', 'cli', '*'], ['tag.deleted', 'retention', 'alice/app:mid'], ['tag.deleted', 'retention', 'alice/app:old']]);
  });

  it('one-line errors: no rule, a bad number or pattern, a missing name, a plan without the feature', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['set', 'alice'], 2, /^pier: give at least one rule: --keep-last, --keep-pulled-days or --keep-pattern\n$/],
      [['set', 'alice', '--keep-last', 'two'], 2, /^pier: --keep-last expects a whole number, got "two"\n$/],
      [['set', 'alice', '--keep-pattern', '/(/'], 1, /^pier: keep_pattern: invalid regular expression/],
      [['set', 'nobody', '--keep-last', '1'], 1, /^pier: no account or organisation "nobody"\n$/],
      [['show', 'alice/nothing'], 1, /^pier: no repository "alice\/nothing"\n$/],
      [['set', 'bob', '--keep-last', '1'], 1, /^pier: a retention policy needs the "retention-policies" feature/],
      [['unset', 'bob/app'], 1, /^pier: bob\/app has no retention policy of its own\n$/],
      [['run', 'bob/app'], 1, /^pier: no retention policy applies to bob\/app/],
    ];
    for (const [args, code, message] of cases) {
      const result = await pier(...args);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.split('\n').length, 2, result.stderr);
    }
  });
});
