import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Subject } from '../auth/access-policy.js';
import type { MetadataDatabase } from '../metadata/database.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { Registry } from '../registry/registry.js';
import { createMemoryStore } from '../storage/memory-store.js';
import { accountNameProblem } from './account-names.js';
import { HubError } from './errors.js';
import { Hub } from './hub.js';
import { OrganizationService } from './organizations.js';

const kind = (k: string) => (e: unknown) => e instanceof HubError && e.kind === k;
const PASSWORD = 'correct horse battery';

async function setupOn(open: () => Promise<MetadataDatabase>) {
  let now = 1_000_000;
  const clock = { now: () => now };
  const database = await open();
  const hub = new Hub(database.db, clock);
  const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
  for (const name of ['olive', 'mark', 'rita', 'wade', 'adam', 'otto']) await hub.accounts.create({ name, password: PASSWORD });
  await hub.accounts.create({ name: 'boss', password: PASSWORD, admin: true });
  // every feature and enough seats, whatever plans say by default
  const team = async (org: string) => hub.plans.apply(org, 'team');
  return { hub, registry, database, team, advance: (ms: number) => (now += ms) };
}

const user = (name: string, extra: Partial<Extract<Subject, { kind: 'account' }>> = {}): Subject => ({ kind: 'account', name, admin: false, ...extra });
const sorted = (actions: Set<string>) => [...actions].sort().join(',');

describe('organisation names', () => {
  it('follows the account rules and refuses every look-alike of the official and verified namespaces', () => {
    assert.equal(accountNameProblem('acme', 'an organisation name'), undefined);
    assert.equal(accountNameProblem('acme-corp.io'), undefined);
    for (const bad of ['library', 'library_', '_library', 'lib-rary', 'li_brary', 'lib.rary', '1ibrary', 'l1brary', 'librar-y', 'library1', 'the-library', 'mylibrary', 'official', '0fficial', 'official-images', 'docker', 'd0cker', 'verified', 'verified-acme', 'admin', 'adm1n', 'r00t']) {
      assert.ok(accountNameProblem(bad, 'an organisation name'), bad);
    }
  });
});

for (const { name, open, options } of await testDatabases()) {
  describe(`Organisations: ${name}`, options, () => {
    const setup = () => setupOn(open);

    it('creates an organisation owned by a user: a namespace that never signs in and shares no name', async () => {
      const { hub, database } = await setup();
      const org = await hub.organizations.create('acme', 'olive');
      assert.deepEqual({ ...org, createdAt: 0 }, { name: 'acme', official: false, verifiedPublisher: false, plan: 'free', billedTo: 'olive', defaultPrivate: false, createdAt: 0 });
      assert.equal(await hub.organizations.role('acme', 'olive'), 'owner');
      await assert.rejects(hub.organizations.create('acme', 'mark'), kind('conflict'));
      await assert.rejects(hub.organizations.create('olive', 'mark'), kind('conflict'), 'a user name is taken for organisations');
      await assert.rejects(hub.accounts.create({ name: 'acme', password: PASSWORD }), kind('conflict'), 'an organisation name is taken for users');
      await assert.rejects(hub.organizations.create('library_', 'olive'), kind('invalid'));
      await assert.rejects(hub.organizations.create('lib-rary', 'olive'), kind('invalid'));
      await assert.rejects(hub.organizations.create('globex', 'nobody'), kind('not_found'));
      await assert.rejects(hub.organizations.create('globex', 'acme'), kind('invalid'), 'an organisation owns no organisation');
      assert.equal(await hub.organizations.get('globex'), undefined, 'nothing is left of a refused creation');

      assert.equal(await hub.accounts.authenticate('acme', ''), undefined);
      await assert.rejects(hub.accounts.setPassword('acme', 'a password for acme'), kind('not_found'), 'an organisation never gets a password');
      assert.equal((await hub.accounts.get('acme'))?.kind, 'organization');
      assert.equal(await hub.accounts.count(), 7, 'organisations are not users');
      assert.ok(!(await hub.accounts.list()).some((a) => a.name === 'acme'));
      assert.deepEqual(await hub.organizations.ofAccount('olive'), [{ organization: 'acme', role: 'owner' }]);
      await database.close();
    });

    it('makes library an organisation owned by no user, which administrators manage', async () => {
      const { hub, database, registry } = await setup();
      const library = await hub.organizations.get('library');
      assert.equal(library?.official, true);
      assert.deepEqual(await hub.organizations.members('library'), []);
      assert.ok(await hub.organizations.mayManage('library', (await hub.accounts.get('boss'))!));
      assert.ok(!(await hub.organizations.mayManage('library', (await hub.accounts.get('olive'))!)));
      await hub.organizations.addMember('library', 'rita');
      await hub.teams.create('library', 'maintainers');
      await hub.teams.addMember('library', 'maintainers', 'rita');
      assert.equal(await hub.teams.setPermission('library', 'maintainers', 'nginx', 'write'), 'library/nginx');
      assert.equal(sorted(await hub.policy.allowed(user('rita'), 'library/nginx')), 'pull,push');
      assert.equal(sorted(await hub.policy.allowed(user('olive'), 'library/nginx')), '', 'nobody else pushes official images');
      assert.equal(sorted(await hub.policy.allowed(user('boss', { admin: true }), 'library/redis')), 'delete,pull,push');
      await hub.organizations.removeMember('library', 'rita');
      assert.equal(sorted(await hub.policy.allowed(user('rita'), 'library/nginx')), '', 'leaving the organisation leaves its teams');
      await assert.rejects(hub.deleteAccount('library', registry), kind('forbidden'));
      assert.equal(await hub.accounts.count(), 7, 'library does not make an installation look set up');
      await database.close();
    });

    it('keeps an owner: refuses removing, demoting and the leaving of the last one', async () => {
      const { hub, database, team, registry } = await setup();
      await hub.organizations.create('acme', 'olive');
      await team('acme');
      await assert.rejects(hub.organizations.removeMember('acme', 'olive'), kind('conflict'));
      await assert.rejects(hub.organizations.setRole('acme', 'olive', 'member'), kind('conflict'));
      await hub.organizations.addMember('acme', 'mark');
      await assert.rejects(hub.organizations.addMember('acme', 'mark'), kind('conflict'));
      await assert.rejects(hub.organizations.addMember('acme', 'nobody'), kind('not_found'));
      await assert.rejects(hub.organizations.addMember('nothing', 'mark'), kind('not_found'));
      await assert.rejects(hub.deleteAccount('olive', registry), kind('conflict'), 'the last owner cannot delete their account');
      await hub.organizations.setRole('acme', 'mark', 'owner');
      await hub.organizations.setRole('acme', 'olive', 'member');
      await assert.rejects(hub.organizations.removeMember('acme', 'mark'), kind('conflict'));
      await hub.organizations.removeMember('acme', 'olive');
      assert.deepEqual((await hub.organizations.members('acme')).map((m) => [m.account, m.role]), [['mark', 'owner']]);
      await assert.rejects(hub.organizations.removeMember('acme', 'olive'), kind('not_found'));
      await database.close();
    });

    it('never loses its last owner to two owners leaving at once', async () => {
      const { hub, database, team } = await setup();
      await hub.organizations.create('acme', 'olive');
      await team('acme');
      await hub.organizations.addMember('acme', 'mark', 'owner');
      const results = await Promise.allSettled([hub.organizations.removeMember('acme', 'olive'), hub.organizations.removeMember('acme', 'mark')]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results));
      assert.equal((await hub.organizations.members('acme')).filter((m) => m.role === 'owner').length, 1);
      await database.close();
    });

    it('caps members at the seats of the plan', async () => {
      const { hub, database } = await setup();
      const seats = new OrganizationService(database.db, { now: () => 1 }, async () => ({ plan: 'small', seats: 2 }));
      await seats.create('acme', 'olive');
      await seats.addMember('acme', 'mark');
      await assert.rejects(seats.addMember('acme', 'rita'), (e: unknown) => kind('plan_limit')(e) && /2 seats.*"small"/.test((e as Error).message));
      await seats.removeMember('acme', 'mark');
      await seats.addMember('acme', 'rita');
      // the hub asks the plans when they are wired: the free plan has one seat
      if ((await hub.planLimits('acme'))?.seats === 1) await assert.rejects(hub.organizations.addMember('acme', 'wade'), kind('plan_limit'));
      await database.close();
    });

    it('grants by role and team: owners all, members pull public plus what their teams give, tokens within their limits', async () => {
      const { hub, database, team } = await setup();
      await hub.organizations.create('acme', 'olive');
      await team('acme');
      for (const m of ['mark', 'rita', 'wade', 'adam', 'otto']) await hub.organizations.addMember('acme', m);
      for (const repo of ['acme/app', 'acme/private', 'acme/other']) await hub.repositories.ensure(repo);
      await hub.repositories.setVisibility('acme/private', true);
      await hub.repositories.setVisibility('acme/other', true);
      for (const [t, repo, permission, member] of [
        ['readers', 'acme/private', 'read', 'rita'],
        ['writers', 'private', 'write', 'wade'],
        ['admins', 'acme/private', 'admin', 'adam'],
        ['everything', '*', 'write', 'otto'],
      ] as const) {
        await hub.teams.create('acme', t);
        await hub.teams.addMember('acme', t, member);
        await hub.teams.setPermission('acme', t, repo, permission);
      }
      await assert.rejects(hub.teams.addMember('acme', 'readers', 'boss'), kind('invalid'), 'only members join teams');
      await assert.rejects(hub.teams.setPermission('acme', 'readers', 'globex/app', 'read'), kind('invalid'));
      await assert.rejects(hub.teams.setPermission('acme', 'readers', 'app', 'owner'), kind('invalid'));
      await assert.rejects(hub.teams.create('acme', 'readers'), kind('conflict'));

      const limited = await hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:write'], repositories: ['private'] });
      const found = await hub.tokens.authenticatePersonalAccessToken(limited.token);
      assert.deepEqual(found?.repositories, ['acme/private']);
      assert.equal(found?.account.name, 'acme');
      const orgToken = user('acme', { tokenScopes: found!.scopes, tokenRepositories: found!.repositories! });
      const allRepos = await hub.tokens.createOrganizationToken('acme', { label: 'all', scopes: ['repo:read'] });
      const readAll = user('acme', { tokenScopes: (await hub.tokens.authenticatePersonalAccessToken(allRepos.token))!.scopes });

      const expect: [string, Subject, string, string][] = [
        ['owner', user('olive'), 'acme/private', 'delete,pull,push'],
        ['owner on a new repository', user('olive'), 'acme/new', 'delete,pull,push'],
        ['member without team, public', user('mark'), 'acme/app', 'pull'],
        ['member without team, private', user('mark'), 'acme/private', ''],
        ['team read', user('rita'), 'acme/private', 'pull'],
        ['team read elsewhere', user('rita'), 'acme/other', ''],
        ['team write', user('wade'), 'acme/private', 'pull,push'],
        ['team admin', user('adam'), 'acme/private', 'delete,pull,push'],
        ['team write on *', user('otto'), 'acme/other', 'pull,push'],
        ['team write on *, new', user('otto'), 'acme/new', 'pull,push'],
        ['outsider, public', user('stranger'), 'acme/app', 'pull'],
        ['outsider, private', user('nobody'), 'acme/private', ''],
        ['anonymous, public', { kind: 'anonymous' }, 'acme/app', 'pull'],
        ['anonymous, private', { kind: 'anonymous' }, 'acme/private', ''],
        ['org token on its repository', orgToken, 'acme/private', 'pull,push'],
        ['org token elsewhere in the org, private', orgToken, 'acme/other', ''],
        ['org token elsewhere in the org, public', orgToken, 'acme/app', 'pull'],
        ['org token without a list', readAll, 'acme/other', 'pull'],
        ['administrator', user('boss', { admin: true }), 'acme/private', 'delete,pull,push'],
        ['member PAT narrows', user('adam', { tokenScopes: ['repo:read'] }), 'acme/private', 'pull'],
      ];
      for (const [what, subject, repo, actions] of expect) assert.equal(sorted(await hub.policy.allowed(subject, repo)), actions, what);

      const names = ['acme/app', 'acme/other', 'acme/private'];
      const readable = async (subject: Subject) => [...(await hub.policy.readableAmong(subject, names))].sort();
      assert.deepEqual(await readable(user('rita')), ['acme/app', 'acme/private']);
      assert.deepEqual(await readable(user('mark')), ['acme/app']);
      assert.deepEqual(await readable({ kind: 'anonymous' }), ['acme/app']);
      assert.deepEqual(await readable(orgToken), ['acme/app', 'acme/private']);
      assert.deepEqual(await readable(user('olive')), names);

      assert.ok(await hub.policy.administers(user('olive'), 'acme/private'));
      assert.ok(await hub.policy.administers(user('adam'), 'acme/private'));
      assert.ok(!(await hub.policy.administers(user('wade'), 'acme/private')));
      assert.ok(!(await hub.policy.administers(user('adam', { tokenScopes: ['repo:write'] }), 'acme/private')));

      // taking someone off a team, or out of the organisation, takes its grants at once
      await hub.teams.removeMember('acme', 'writers', 'wade');
      assert.equal(sorted(await hub.policy.allowed(user('wade'), 'acme/private')), '');
      await hub.organizations.removeMember('acme', 'adam');
      assert.equal(sorted(await hub.policy.allowed(user('adam'), 'acme/private')), '');
      await hub.teams.delete('acme', 'everything');
      assert.equal(sorted(await hub.policy.allowed(user('otto'), 'acme/other')), '');
      assert.ok(await hub.tokens.revokeOrganizationToken('acme', limited.info.id));
      assert.equal(await hub.tokens.authenticatePersonalAccessToken(limited.token), undefined);
      await database.close();
    });

    it('checks plan features when they are used: after a downgrade teams grant nothing, take no member, and organisation tokens stop, saying why', async () => {
      const { hub, database, team } = await setup();
      await hub.organizations.create('acme', 'olive');
      await team('acme');
      await hub.organizations.addMember('acme', 'wade');
      await hub.organizations.addMember('acme', 'adam');
      await hub.teams.create('acme', 'writers');
      await hub.teams.addMember('acme', 'writers', 'wade');
      await hub.teams.setPermission('acme', 'writers', '*', 'admin');
      await hub.repositories.create('acme/private', true);
      const { token } = await hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:write'] });
      const acme = user('acme', { tokenScopes: ['repo:write'] });
      assert.equal(sorted(await hub.policy.allowed(user('wade'), 'acme/private')), 'delete,pull,push');
      assert.ok(await hub.policy.administers(user('wade'), 'acme/private'));
      assert.equal((await hub.tokens.authenticatePersonalAccessToken(token))?.account.name, 'acme');
      assert.equal(await hub.policy.refusal(acme), undefined);

      await hub.plans.apply('acme', 'free');
      assert.equal(sorted(await hub.policy.allowed(user('wade'), 'acme/private')), '', 'a team permission gives nothing without the feature');
      assert.equal(sorted(await hub.policy.allowed(user('wade'), 'acme/public-one')), '');
      assert.ok(!(await hub.policy.administers(user('wade'), 'acme/private')));
      assert.deepEqual([...(await hub.policy.readableAmong(user('wade'), ['acme/private']))], []);
      const featureOff = (what: string, feature: string) => (e: unknown) =>
        e instanceof HubError && e.kind === 'plan_limit' && e.message === `${what} needs the "${feature}" feature, which the free plan of acme does not include: ask an administrator for the team plan`;
      await assert.rejects(hub.teams.addMember('acme', 'writers', 'adam'), featureOff('putting a member on a team', 'team-permissions'));
      await assert.rejects(hub.teams.create('acme', 'readers'), featureOff('a team', 'team-permissions'));
      await assert.rejects(hub.teams.setPermission('acme', 'writers', 'app', 'read'), featureOff('a team permission', 'team-permissions'));
      await assert.rejects(hub.tokens.authenticatePersonalAccessToken(token), featureOff('an organisation access token', 'organization-tokens'));
      assert.deepEqual(await hub.policy.refusal(acme), {
        kind: 'plan',
        message: 'an organisation access token needs the "organization-tokens" feature, which the free plan of acme does not include: ask an administrator for the team plan',
      });
      // taking away stays possible; nothing was deleted
      await hub.teams.removeMember('acme', 'writers', 'wade');
      assert.equal((await hub.teams.get('acme', 'writers'))?.permissions.length, 1);

      // the plan back: everything works again, with the same team and token
      await team('acme');
      await hub.teams.addMember('acme', 'writers', 'wade');
      assert.equal(sorted(await hub.policy.allowed(user('wade'), 'acme/private')), 'delete,pull,push');
      assert.equal((await hub.tokens.authenticatePersonalAccessToken(token))?.account.name, 'acme');
      assert.equal(await hub.policy.refusal(acme), undefined);
      await database.close();
    });

    it('keeps organisation tokens to the organisation and marks verified publishers', async () => {
      const { hub, database, team } = await setup();
      await hub.organizations.create('acme', 'olive');
      await assert.rejects(hub.tokens.createOrganizationToken('acme', { label: 'x', scopes: ['repo:read'] }), kind('plan_limit'), 'not on the free plan');
      await team('acme');
      await assert.rejects(hub.tokens.createOrganizationToken('olive', { label: 'x', scopes: ['repo:read'] }), kind('not_found'));
      await assert.rejects(hub.tokens.createPersonalAccessToken('acme', { label: 'x', scopes: ['repo:read'] }), kind('invalid'));
      await assert.rejects(hub.tokens.createOrganizationToken('acme', { label: 'x', scopes: ['repo:read'], repositories: ['globex/app'] }), kind('invalid'));
      await assert.rejects(hub.tokens.createOrganizationToken('acme', { label: 'x', scopes: ['repo:read'], repositories: [] }), kind('invalid'));
      const { info } = await hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:read'], repositories: ['acme/b', 'a', 'b'] });
      assert.deepEqual(info.repositories, ['acme/a', 'acme/b']);
      assert.deepEqual((await hub.tokens.listOrganizationTokens('acme')).map((t) => t.repositories), [['acme/a', 'acme/b']]);
      assert.deepEqual(await hub.tokens.listPersonalAccessTokens('olive'), []);

      assert.deepEqual([...(await hub.accounts.verifiedAmong(['acme', 'olive']))], []);
      await hub.organizations.setVerifiedPublisher('acme', true);
      assert.equal((await hub.organizations.get('acme'))?.verifiedPublisher, true);
      assert.deepEqual([...(await hub.accounts.verifiedAmong(['acme', 'olive']))], ['acme']);
      await assert.rejects(hub.organizations.setVerifiedPublisher('olive', true), kind('not_found'), 'only organisations are verified publishers');
      await database.close();
    });

    it('deletes an organisation with its members and teams; its name stays reserved', async () => {
      const { hub, database, team, registry } = await setup();
      await hub.organizations.create('acme', 'olive');
      await team('acme');
      await hub.organizations.addMember('acme', 'mark');
      await hub.teams.create('acme', 'devs');
      await hub.teams.addMember('acme', 'devs', 'mark');
      await hub.teams.setPermission('acme', 'devs', '*', 'write');
      await hub.deleteAccount('acme', registry);
      assert.equal(await hub.organizations.get('acme'), undefined);
      assert.deepEqual(await hub.organizations.ofAccount('mark'), []);
      assert.equal(sorted(await hub.policy.allowed(user('mark'), 'acme/app')), '');
      await assert.rejects(hub.organizations.create('acme', 'mark'), kind('conflict'));
      await database.close();
    });
  });
}

