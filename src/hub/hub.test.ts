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
import { MAX_TOKEN_LIFETIME_SECONDS, tokenLifetimeSeconds } from './tokens.js';

async function setupOn(open: () => Promise<MetadataDatabase>) {
  let now = 1_000_000;
  const clock = { now: () => now };
  const database = await open();
  const hub = new Hub(database.db, clock);
  const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
  return { hub, registry, database, advance: (ms: number) => (now += ms) };
}

const kind = (k: string) => (e: unknown) => e instanceof HubError && e.kind === k;

describe('account names', () => {
  it('follows the namespace grammar and reserves words and their look-alikes', () => {
    assert.equal(accountNameProblem('alice'), undefined);
    assert.equal(accountNameProblem('a-l.i_ce9'), undefined);
    for (const bad of ['a', 'Alice', '-alice', 'alice-', 'al/ice', 'x'.repeat(31), 'library', 'lib-rary', 'li_brary', 'v2', 'api', 'token', 'admin']) {
      assert.ok(accountNameProblem(bad), bad);
    }
  });
});

describe('token lifetimes', () => {
  it('are one rule: whole seconds or a duration, at most 5 years', () => {
    assert.equal(tokenLifetimeSeconds('30d'), 30 * 86_400);
    assert.equal(tokenLifetimeSeconds('12h'), 12 * 3600);
    assert.equal(tokenLifetimeSeconds('90m'), 5400);
    assert.equal(tokenLifetimeSeconds('60'), 60);
    assert.equal(tokenLifetimeSeconds(3600), 3600);
    assert.equal(tokenLifetimeSeconds('1.5d'), 129_600);
    assert.equal(tokenLifetimeSeconds(MAX_TOKEN_LIFETIME_SECONDS), MAX_TOKEN_LIFETIME_SECONDS);
    for (const bad of ['30 days', 'soon', '', '500ms', '0', -5, 0, 1.5, '3650d', MAX_TOKEN_LIFETIME_SECONDS + 1]) assert.equal(tokenLifetimeSeconds(bad), undefined, String(bad));
  });
});

for (const { name, open, options } of await testDatabases()) {
  describe(`Hub: ${name}`, options, () => {
    const setup = () => setupOn(open);

    it('creates accounts, authenticates them, and keeps a deleted name reserved', async () => {
      const { hub, registry, database } = await setup();
      await hub.accounts.create({ name: 'alice', password: 'correct horse', email: 'alice@example.com' });
      await assert.rejects(hub.accounts.create({ name: 'alice', password: 'another one' }), kind('conflict'));
      await assert.rejects(hub.accounts.create({ name: 'library', password: 'whatever1' }), kind('invalid'));
      await assert.rejects(hub.accounts.create({ name: 'bob', password: 'short' }), kind('invalid'));
      assert.equal((await hub.accounts.authenticate('alice', 'correct horse'))?.name, 'alice');
      assert.equal(await hub.accounts.authenticate('alice', 'wrong horse'), undefined);
      assert.equal(await hub.accounts.authenticate('nobody', 'correct horse'), undefined);
      const stored = await database.db.selectFrom('accounts').select('password_hash').where('name', '=', 'alice').executeTakeFirst();
      assert.match(stored!.password_hash!, /^\$argon2id\$/);

      await registry.blobs.mount('alice/app' as never, `sha256:${'0'.repeat(64)}`, undefined, {}).catch(() => {});
      await hub.deleteAccount('alice', registry);
      assert.equal(await hub.accounts.get('alice'), undefined);
      assert.equal(await hub.accounts.authenticate('alice', 'correct horse'), undefined);
      await assert.rejects(hub.accounts.create({ name: 'alice', password: 'taking over' }), kind('conflict'), 'a deleted name stays reserved');
      await database.close();
    });

    it('issues personal access tokens shown once, stored hashed, expiring and revocable', async () => {
      const { hub, database, advance } = await setup();
      await hub.accounts.create({ name: 'alice', password: 'correct horse' });
      const { token, info } = await hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:write'], expiresAt: 1_000_000 + 60_000 });
      assert.match(token, /^pier_pat_/);
      const rows = await database.db.selectFrom('access_tokens').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(token), 'the secret itself is never stored');
      assert.deepEqual((await hub.tokens.authenticatePersonalAccessToken(token))?.scopes, ['repo:write']);
      advance(61_000);
      assert.equal(await hub.tokens.authenticatePersonalAccessToken(token), undefined, 'expired');
      const second = await hub.tokens.createPersonalAccessToken('alice', { label: 'laptop', scopes: ['repo:read'] });
      assert.ok(await hub.tokens.revokePersonalAccessToken('alice', second.info.id));
      assert.equal(await hub.tokens.authenticatePersonalAccessToken(second.token), undefined, 'revoked');
      await assert.rejects(hub.tokens.createPersonalAccessToken('alice', { label: 'x', scopes: ['repo:everything'] }), kind('invalid'));
      assert.equal(info.label, 'ci');
      await database.close();
    });

    it('holds every token expiry to the lifetime rule, given as a lifetime or as an instant', async () => {
      const { hub, database } = await setup();
      await hub.accounts.create({ name: 'alice', password: 'correct horse' });
      const now = 1_000_000;
      const made = await hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:read'], expiresIn: '30d' });
      assert.equal(made.info.expiresAt, now + 30 * 86_400_000);
      await assert.rejects(hub.tokens.createPersonalAccessToken('alice', { label: 'x', scopes: ['repo:read'], expiresIn: '3650d' }), (e: unknown) => kind('invalid')(e) && /expires_in: .*at most 5 years/.test((e as Error).message));
      await assert.rejects(hub.tokens.createPersonalAccessToken('alice', { label: 'x', scopes: ['repo:read'], expiresAt: now + (MAX_TOKEN_LIFETIME_SECONDS + 1) * 1000 }), kind('invalid'));
      await assert.rejects(hub.tokens.createPersonalAccessToken('alice', { label: 'x', scopes: ['repo:read'], expiresAt: now }), kind('invalid'));
      assert.equal((await hub.tokens.createPersonalAccessToken('alice', { label: 'forever', scopes: ['repo:read'] })).info.expiresAt, null);
      await database.close();
    });

    it('ends refresh tokens at revocation and at a password change', async () => {
      const { hub, database, advance } = await setup();
      await hub.accounts.create({ name: 'alice', password: 'correct horse' });
      const refresh = await hub.tokens.createRefreshToken('alice', 'docker');
      assert.equal((await hub.tokens.authenticateRefreshToken(refresh))?.name, 'alice');
      assert.equal((await hub.tokens.authenticateRefreshToken(refresh))?.name, 'alice', 'not rotated when used');
      advance(1000);
      await hub.accounts.setPassword('alice', 'battery staple');
      assert.equal(await hub.tokens.authenticateRefreshToken(refresh), undefined);
      const again = await hub.tokens.createRefreshToken('alice', 'docker');
      const session = (await hub.tokens.listRefreshTokens('alice')).at(-1);
      assert.ok(await hub.tokens.revokeRefreshToken('alice', session!.id));
      assert.equal(await hub.tokens.authenticateRefreshToken(again), undefined);
      await database.close();
    });

    it('grants by namespace, visibility and token scopes; private and missing look the same', async () => {
      const { hub, database } = await setup();
      await hub.accounts.create({ name: 'alice', password: 'correct horse' });
      await hub.repositories.ensure('alice/public');
      await hub.repositories.ensure('alice/private');
      await hub.repositories.setVisibility('alice/private', true);
      await hub.repositories.ensure('library/nginx');
      const anonymous: Subject = { kind: 'anonymous' };
      const alice: Subject = { kind: 'account', name: 'alice', admin: false };
      const bob: Subject = { kind: 'account', name: 'bob', admin: false };
      const admin: Subject = { kind: 'account', name: 'root', admin: true };
      const readToken: Subject = { ...alice, tokenScopes: ['repo:read'] };
      const all = ['pull', 'push', 'delete'];
      const actions = async (subject: Subject, name: string) => [...(await hub.policy.allowed(subject, name))].sort();
      assert.deepEqual(await actions(alice, 'alice/private'), ['delete', 'pull', 'push']);
      assert.deepEqual(await actions(alice, 'alice/new/nested'), ['delete', 'pull', 'push']);
      assert.deepEqual(await actions(readToken, 'alice/private'), ['pull']);
      assert.deepEqual(await actions(bob, 'alice/public'), ['pull']);
      assert.deepEqual(await actions(bob, 'alice/private'), []);
      assert.deepEqual(await actions(bob, 'alice/missing'), []);
      assert.deepEqual(await actions(anonymous, 'alice/public'), ['pull']);
      assert.deepEqual(await actions(anonymous, 'alice/private'), []);
      assert.deepEqual(await actions(anonymous, 'library/nginx'), ['pull']);
      assert.deepEqual(await actions(alice, 'library/nginx'), ['pull'], 'only administrators push official images');
      assert.deepEqual(await actions(admin, 'library/nginx'), ['delete', 'pull', 'push']);
      assert.deepEqual(
        await hub.policy.grant(bob, [
          { type: 'repository', name: 'alice/public', actions: all },
          { type: 'repository', name: 'alice/private', actions: ['pull'] },
          { type: 'registry', name: 'catalog', actions: ['*'] },
        ]),
        [{ type: 'repository', name: 'alice/public', actions: ['pull'] }, { type: 'registry', name: 'catalog', actions: ['*'] }],
      );
      await hub.settings.set('pullRequiresLogin', true);
      assert.deepEqual(await actions(anonymous, 'alice/public'), []);
      assert.deepEqual(await actions(bob, 'alice/public'), ['pull']);
      await database.close();
    });

    it('creates a repository on first push with the owner default visibility', async () => {
      const { hub, database } = await setup();
      await hub.accounts.create({ name: 'alice', password: 'correct horse' });
      await hub.accounts.setDefaultPrivate('alice', true);
      await hub.pushGate.check({ repository: 'alice/app' as never, actor: { account: 'alice' }, sizeDelta: 0, operation: 'upload' });
      assert.deepEqual(await hub.repositories.visibility('alice/app'), { exists: true, private: true });
      await database.close();
    });
  });
}
