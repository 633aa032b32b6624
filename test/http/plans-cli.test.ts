// `pier plan list` and `pier plan set` against the data directory of a running server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { runPier } from '../support/cli.js';

describe('pier plan', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
  });
  after(() => server.stop());

  it('lists the plans with their limits', async () => {
    const run = await runPier(['plan', 'list', '--data', server.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+PRICE\s+PRIVATE REPOS\s+STORAGE\s+PULLS\s+SEATS\s+FEATURES$/);
    assert.match(lines[1]!, /^free\s+Free\s+1\s+2 GB\s+100\/6h\s+3\s+-$/);
    assert.match(lines[2]!, /^pro\s.*unlimited\s+50 GB\s+5000\/6h/);
    assert.match(lines[3]!, /^team\s.*team-permissions/);
    const json = await runPier(['plan', 'list', '--json', '--data', server.dataDir]);
    assert.deepEqual((JSON.parse(json.stdout) as Array<{ name: string }>).map((p) => p.name), ['free', 'pro', 'team']);
  });

  it('grants a plan that the running server applies at once, and tells what a downgrade leaves read-only', async () => {
    const run = await runPier(['plan', 'set', 'alice', 'pro', '--data', server.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'alice now has the pro plan\n');
    const usage = await expectJson<{ plan: { name: string } }>(await server.api('/namespaces/alice/usage', { auth: { basic: ['alice', PASSWORD] } }), 200);
    assert.equal(usage.plan.name, 'pro');
    await server.hub.repositories.create('alice/a', true);
    await server.hub.repositories.create('alice/b', true);
    const down = await runPier(['plan', 'set', 'alice', 'free', '--data', server.dataDir]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /alice now has the free plan\nalice has 2 private repositories, over the 1 of this plan: alice\/b is read-only/);

    const unknown = await runPier(['plan', 'set', 'alice', 'gold', '--data', server.dataDir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no plan "gold": the plans are free, pro, team/);
    const nobody = await runPier(['plan', 'set', 'nobody', 'pro', '--data', server.dataDir]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no account or organisation "nobody"/);
  });
});
