import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPier, withData } from '../support/cli.js';

describe('pier token create', () => {
  let data: string;
  before(async () => {
    data = await mkdtemp(join(tmpdir(), 'pier-cli-token-'));
    await withData(data, ({ hub }) => hub.accounts.create({ name: 'alice', password: 'correct horse battery' }));
  });
  after(() => rm(data, { recursive: true, force: true }));

  it('prints the token once, alone on stdout; it works with its scopes and is stored hashed', async () => {
    const run = await runPier(['token', 'create', 'alice', '--label', 'ci', '--scope', 'repo:write', '--scope', 'repo:delete', '--data', data]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^pier_pat_[A-Za-z0-9_-]{43}\n$/);
    assert.match(run.stderr, /created token [0-9a-f-]{36} for alice \(repo:write, repo:delete; never expires\); it is shown only this once/);
    const secret = run.stdout.trim();
    await withData(data, async ({ hub, database }) => {
      const found = await hub.tokens.authenticatePersonalAccessToken(secret);
      assert.equal(found?.account.name, 'alice');
      assert.deepEqual(found?.scopes, ['repo:write', 'repo:delete']);
      const [listed] = await hub.tokens.listPersonalAccessTokens('alice');
      assert.equal(listed?.label, 'ci');
      assert.equal(listed?.expiresAt, null);
      const rows = await database.db.selectFrom('access_tokens').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(secret));
    });
  });

  it('--expires sets the expiry', async () => {
    const before = Date.now();
    const run = await runPier(['token', 'create', 'alice', '--label', 'month', '--scope', 'repo:read', '--expires', '30d', '--data', data]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /expires \d{4}-\d\d-\d\dT/);
    await withData(data, async ({ hub }) => {
      const token = (await hub.tokens.listPersonalAccessTokens('alice')).find((t) => t.label === 'month')!;
      const days = (token.expiresAt! - before) / 86_400_000;
      assert.ok(days > 29.99 && days < 30.01, `${days}`);
    });
  });

  it('refuses usage mistakes with exit code 2, an unknown account with 1, and prints no token', async () => {
    const usage: Array<[string[], RegExp]> = [
      [['token', 'create', 'alice', '--scope', 'repo:read'], /--label/],
      [['token', 'create', 'alice', '--label', 'x'], /--scope/],
      [['token', 'create', 'alice', '--label', 'x', '--scope', 'repo:all'], /unknown scope repo:all/],
      [['token', 'create', 'alice', '--label', 'x', '--scope', 'repo:read', '--expires', 'soon'], /--expires/],
      [['token', 'create', '--label', 'x', '--scope', 'repo:read'], /missing required argument/],
    ];
    for (const [args, message] of usage) {
      const run = await runPier([...args, '--data', data]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
    const unknown = await runPier(['token', 'create', 'nobody', '--label', 'x', '--scope', 'repo:read', '--data', data]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no account "nobody"/);
    assert.equal(unknown.stdout, '');
  });
});
