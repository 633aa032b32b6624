import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pushImage } from '../support/images.js';
import { runPier, withData } from '../support/cli.js';

const PASSWORD = 'correct horse battery';

describe('pier user', () => {
  let data: string;
  const dirs: string[] = [];
  before(async () => {
    data = await mkdtemp(join(tmpdir(), 'pier-cli-user-'));
    dirs.push(data);
  });
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('create --admin reads the password from stdin, and starts a new installation', async () => {
    const run = await runPier(['user', 'create', 'boss', '--admin', '--email', 'boss@example.com', '--password-stdin', '--data', data], { input: `${PASSWORD}\n` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'created administrator boss\n');
    await withData(data, async ({ hub }) => {
      const account = await hub.accounts.authenticate('boss', PASSWORD);
      assert.ok(account, 'the password without its newline');
      assert.equal(account.admin, true);
      assert.equal(account.email, 'boss@example.com');
    });
  });

  it('create without --admin; PIER_DATA names the data directory; a password may end in spaces', async () => {
    const run = await runPier(['user', 'create', 'alice', '--password-stdin'], { input: `${PASSWORD}  `, env: { PIER_DATA: data } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'created user alice\n');
    await withData(data, async ({ hub }) => {
      assert.equal((await hub.accounts.authenticate('alice', `${PASSWORD}  `))?.admin, false);
    });
  });

  it('create never takes the password from the command line: without --password-stdin it is a usage error', async () => {
    const run = await runPier(['user', 'create', 'carol', '--data', data], { input: PASSWORD });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--password-stdin/);
    const extra = await runPier(['user', 'create', 'carol', PASSWORD, '--password-stdin', '--data', data], { input: PASSWORD });
    assert.equal(extra.code, 2, 'no second argument');
  });

  it('create refuses an empty password, a bad one, a bad, reserved or taken name, with exit code 1', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['carol', '', /no password/],
      ['carol', 'short', /too short/],
      ['Carol', PASSWORD, /lowercase/],
      ['library', PASSWORD, /reserved/],
      ['alice', PASSWORD, /taken/],
    ];
    for (const [name, input, message] of cases) {
      const run = await runPier(['user', 'create', name, '--password-stdin', '--data', data], { input });
      assert.equal(run.code, 1, `${name}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
    const badEmail = await runPier(['user', 'create', 'carol', '--email', 'nope', '--password-stdin', '--data', data], { input: PASSWORD });
    assert.equal(badEmail.code, 1);
    assert.match(badEmail.stderr, /email/);
  });

  it('list prints a table, or JSON', async () => {
    const run = await runPier(['user', 'list', '--data', data]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+ADMIN\s+EMAIL\s+CREATED$/);
    assert.match(lines[1]!, /^alice\s+no\s+-\s+\d{4}-/);
    assert.match(lines[2]!, /^boss\s+yes\s+boss@example\.com\s+\d{4}-/);
    const json = await runPier(['user', 'list', '--json', '--data', data]);
    const rows = JSON.parse(json.stdout) as Array<{ username: string; admin: boolean; email: string | null }>;
    assert.deepEqual(
      rows.map((r) => [r.username, r.admin, r.email]),
      [
        ['alice', false, null],
        ['boss', true, 'boss@example.com'],
      ],
    );
  });

  it('set-password changes the password and ends earlier docker logins', async () => {
    const refresh = await withData(data, ({ hub }) => hub.tokens.createRefreshToken('alice', 'docker'));
    await new Promise((r) => setTimeout(r, 5));
    const run = await runPier(['user', 'set-password', 'alice', '--password-stdin', '--data', data], { input: 'a new password\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /changed the password of alice/);
    await withData(data, async ({ hub }) => {
      assert.equal(await hub.accounts.authenticate('alice', `${PASSWORD}  `), undefined);
      assert.ok(await hub.accounts.authenticate('alice', 'a new password'));
      assert.equal(await hub.tokens.authenticateRefreshToken(refresh), undefined);
    });
    const missing = await runPier(['user', 'set-password', 'nobody', '--password-stdin', '--data', data], { input: 'a new password' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no account "nobody"/);
    const tooShort = await runPier(['user', 'set-password', 'alice', '--password-stdin', '--data', data], { input: 'short' });
    assert.equal(tooShort.code, 1);
    assert.match(tooShort.stderr, /too short/);
    assert.equal((await runPier(['user', 'set-password', 'alice', '--data', data])).code, 2);
  });

  it('delete removes the account with its repositories and credentials; the name stays reserved', async () => {
    await runPier(['user', 'create', 'leaver', '--password-stdin', '--data', data], { input: PASSWORD });
    const { token } = await withData(data, async ({ hub, registry }) => {
      await pushImage(registry, 'leaver/app', 'latest');
      await pushImage(registry, 'leaver/team/tool', 'latest');
      await pushImage(registry, 'alice/kept', 'latest');
      return hub.tokens.createPersonalAccessToken('leaver', { label: 'ci', scopes: ['repo:write'] });
    });
    const run = await runPier(['user', 'delete', 'leaver', '--data', data]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^deleted user leaver and 2 repositories: /);
    assert.match(run.stdout, /leaver\/app/);
    assert.match(run.stdout, /leaver\/team\/tool/);
    await withData(data, async ({ hub }) => {
      assert.equal(await hub.accounts.get('leaver'), undefined);
      assert.equal(await hub.tokens.authenticatePersonalAccessToken(token), undefined);
      assert.equal((await hub.repositories.visibility('leaver/app')).exists, false);
      assert.equal((await hub.repositories.visibility('alice/kept')).exists, true);
    });
    const again = await runPier(['user', 'create', 'leaver', '--password-stdin', '--data', data], { input: PASSWORD });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /taken/);
    const twice = await runPier(['user', 'delete', 'leaver', '--data', data]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /no account "leaver"/);
    const list = await runPier(['user', 'list', '--data', data]);
    assert.doesNotMatch(list.stdout, /leaver/);
  });

  it('reads the data directory from --config; refuses a directory without a database (2), a bad config (2), a bad command (2)', async () => {
    const config = join(data, 'pier.yaml');
    await writeFile(config, `data: ${data}\n`);
    const fromConfig = await runPier(['user', 'list', '--config', config]);
    assert.equal(fromConfig.code, 0, fromConfig.stderr);
    assert.match(fromConfig.stdout, /alice/);

    const empty = await mkdtemp(join(tmpdir(), 'pier-cli-empty-'));
    dirs.push(empty);
    for (const args of [['user', 'list'], ['user', 'delete', 'alice'], ['token', 'create', 'alice', '--label', 'x', '--scope', 'repo:read'], ['repo', 'visibility', 'a/b', 'private']]) {
      const run = await runPier([...args, '--data', join(empty, 'nothing')]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /no Pier database in .*nothing/);
    }
    const badConfig = await runPier(['user', 'list', '--data', data], { env: { PIER_LOG_LEVEL: 'loud' } });
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /logLevel \(from PIER_LOG_LEVEL\)/);
    assert.equal((await runPier(['user', 'frobnicate'])).code, 2);
    assert.equal((await runPier(['user', 'list', '--bogus'])).code, 2);
    const help = await runPier(['user', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /set-password/);
  });
});
