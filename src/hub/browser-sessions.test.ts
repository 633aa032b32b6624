import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSecret, secretKind } from '../auth/secret-token.js';
import type { MetadataDatabase } from '../metadata/database.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { Registry } from '../registry/registry.js';
import { createMemoryStore } from '../storage/memory-store.js';
import { SESSION_IDLE_MS, SESSION_LIFETIME_MS } from './browser-sessions.js';
import { HubError } from './errors.js';
import { Hub } from './hub.js';

async function setupOn(open: () => Promise<MetadataDatabase>) {
  let now = 1_700_000_000_000;
  const clock = { now: () => now };
  const database = await open();
  const hub = new Hub(database.db, clock);
  const registry = new Registry({ index: new RegistryIndex(database.db), store: createMemoryStore(), clock, gate: hub.pushGate });
  await hub.accounts.create({ name: 'alice', password: 'correct horse' });
  await hub.accounts.create({ name: 'bob', password: 'correct horse' });
  const alice = async () => (await hub.accounts.get('alice'))!;
  return { hub, registry, database, alice, advance: (ms: number) => (now += ms) };
}

const kind = (k: string) => (e: unknown) => e instanceof HubError && e.kind === k;

for (const { name, open, options } of await testDatabases()) {
  describe(`browser sessions: ${name}`, options, () => {
    it('starts a session whose secret is shown once and stored as its hash', async () => {
      const { hub, database, alice } = await setupOn(open);
      const { secret, session } = await hub.browserSessions.start(await alice(), 'Mozilla/5.0 '.repeat(100));
      assert.equal(secretKind(secret), 'session');
      assert.equal(session.expiresAt - session.createdAt, SESSION_LIFETIME_MS);
      assert.equal(session.userAgent!.length, 300, 'the User-Agent is kept short');
      const rows = await database.db.selectFrom('browser_sessions').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.secret_hash, hashSecret(secret));
      assert.ok(!JSON.stringify(rows).includes(secret));
      const found = await hub.browserSessions.authenticate(secret);
      assert.equal(found?.account.name, 'alice');
      assert.equal(found?.session.id, session.id);
      // another last character (never the same one: that would be the right secret)
      assert.equal(await hub.browserSessions.authenticate(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`), undefined);
      await database.close();
    });

    it('ends a session left idle, keeps a busy one until its absolute end, and records use at most once a minute', async () => {
      const { hub, database, alice, advance } = await setupOn(open);
      const idle = await hub.browserSessions.start(await alice(), undefined);
      const busy = await hub.browserSessions.start(await alice(), undefined);
      advance(30_000);
      await hub.browserSessions.authenticate(busy.secret);
      const lastUsed = async (id: string) => Number((await database.db.selectFrom('browser_sessions').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow()).last_used_at);
      assert.equal(await lastUsed(busy.session.id), busy.session.createdAt, 'not written within the minute');
      advance(31_000);
      await hub.browserSessions.authenticate(busy.secret);
      assert.equal(await lastUsed(busy.session.id), busy.session.createdAt + 61_000);

      advance(SESSION_IDLE_MS - 61_000);
      assert.equal(await hub.browserSessions.authenticate(idle.secret), undefined, 'idle for a day: ended');
      assert.ok(await hub.browserSessions.authenticate(busy.secret), 'used a minute in: still alive');
      // used every 23 hours, it lives until its absolute end and not a moment longer
      let now = busy.session.createdAt + SESSION_IDLE_MS;
      while (now + 23 * 3_600_000 < busy.session.expiresAt) {
        advance(23 * 3_600_000);
        now += 23 * 3_600_000;
        assert.ok(await hub.browserSessions.authenticate(busy.secret), `alive ${(now - busy.session.createdAt) / 3_600_000} hours in`);
      }
      advance(busy.session.expiresAt - now);
      assert.equal(await hub.browserSessions.authenticate(busy.secret), undefined, 'ended at its absolute end, however busy');
      assert.deepEqual(await hub.browserSessions.list(await alice()), []);
      await database.close();
    });

    it('lists live sessions oldest first; revoke, end and revokeAll end them at once', async () => {
      const { hub, database, alice, advance } = await setupOn(open);
      const first = await hub.browserSessions.start(await alice(), 'first');
      advance(1);
      const second = await hub.browserSessions.start(await alice(), 'second');
      advance(1);
      const third = await hub.browserSessions.start(await alice(), undefined);
      await hub.browserSessions.start((await hub.accounts.get('bob'))!, 'bob');
      assert.deepEqual((await hub.browserSessions.list(await alice())).map((s) => s.userAgent), ['first', 'second', null]);

      assert.equal(await hub.browserSessions.revoke('bob', first.session.id), false, 'not bob’s');
      assert.equal(await hub.browserSessions.revoke('alice', first.session.id), true);
      assert.equal(await hub.browserSessions.revoke('alice', first.session.id), false, 'already ended');
      assert.equal(await hub.browserSessions.authenticate(first.secret), undefined);
      await hub.browserSessions.end(second.secret);
      assert.equal(await hub.browserSessions.authenticate(second.secret), undefined);
      assert.deepEqual((await hub.browserSessions.list(await alice())).map((s) => s.id), [third.session.id]);
      await hub.browserSessions.revokeAll('alice');
      assert.equal(await hub.browserSessions.authenticate(third.secret), undefined);
      assert.equal((await hub.browserSessions.list((await hub.accounts.get('bob'))!)).length, 1, 'bob’s session is his own');
      await database.close();
    });

    it('a password change ends the sessions begun before it; a deleted account ends them all', async () => {
      const { hub, registry, database, alice, advance } = await setupOn(open);
      const before = await hub.browserSessions.start(await alice(), undefined);
      advance(1);
      await hub.accounts.setPassword('alice', 'another horse');
      const after = await hub.browserSessions.start(await alice(), undefined);
      assert.equal(await hub.browserSessions.authenticate(before.secret), undefined);
      assert.ok(await hub.browserSessions.authenticate(after.secret), 'begun in the same millisecond as the change: alive');
      assert.deepEqual((await hub.browserSessions.list(await alice())).map((s) => s.id), [after.session.id]);

      const bob = await hub.browserSessions.start((await hub.accounts.get('bob'))!, undefined);
      await hub.deleteAccount('bob', registry);
      assert.equal(await hub.browserSessions.authenticate(bob.secret), undefined);
      const row = await database.db.selectFrom('browser_sessions').select('revoked_at').where('id', '=', bob.session.id).executeTakeFirstOrThrow();
      assert.notEqual(row.revoked_at, null, 'revoked with the account');
      await database.close();
    });

    it('a sign-in clears the account’s ended sessions; an organisation never signs in', async () => {
      const { hub, database, alice, advance } = await setupOn(open);
      const old = await hub.browserSessions.start(await alice(), undefined);
      const revoked = await hub.browserSessions.start(await alice(), undefined);
      await hub.browserSessions.revoke('alice', revoked.session.id);
      await hub.browserSessions.start((await hub.accounts.get('bob'))!, undefined);
      advance(SESSION_IDLE_MS);
      await hub.browserSessions.start(await alice(), undefined);
      const ids = (await database.db.selectFrom('browser_sessions').select(['id', 'account']).execute()).filter((r) => r.account === 'alice').map((r) => r.id);
      assert.equal(ids.length, 1);
      assert.ok(!ids.includes(old.session.id) && !ids.includes(revoked.session.id));
      assert.equal((await database.db.selectFrom('browser_sessions').select('id').where('account', '=', 'bob').execute()).length, 1, 'other accounts untouched');

      await hub.organizations.create('acme', 'alice');
      await assert.rejects(hub.browserSessions.start((await hub.accounts.get('acme'))!, undefined), kind('forbidden'));
      await database.close();
    });
  });

  describe(`accounts for administrators: ${name}`, options, () => {
    it('pages users by name, filtered by name or email, with the total count', async () => {
      const { hub, database } = await setupOn(open);
      for (const n of ['carol', 'dave', 'erin', 'frank_x']) await hub.accounts.create({ name: n, password: 'correct horse', email: `${n.toUpperCase()}@Example.com` });
      await hub.organizations.create('acme', 'alice');
      const all = await hub.accounts.page({ offset: 0, limit: 3 });
      assert.equal(all.count, 6, 'users only: the organisation is not one');
      assert.deepEqual(all.accounts.map((a) => a.name), ['alice', 'bob', 'carol']);
      assert.deepEqual((await hub.accounts.page({ offset: 3, limit: 3 })).accounts.map((a) => a.name), ['dave', 'erin', 'frank_x']);
      assert.deepEqual((await hub.accounts.page({ offset: 6, limit: 3 })).accounts, []);
      const byEmail = await hub.accounts.page({ q: 'EXAMPLE.com', offset: 0, limit: 10 });
      assert.deepEqual(byEmail.accounts.map((a) => a.name), ['carol', 'dave', 'erin', 'frank_x']);
      assert.deepEqual((await hub.accounts.page({ q: 'r', offset: 0, limit: 10 })).accounts.map((a) => a.name), ['carol', 'erin', 'frank_x']);
      // LIKE's wildcards are plain characters
      assert.deepEqual((await hub.accounts.page({ q: '_', offset: 0, limit: 10 })).accounts.map((a) => a.name), ['frank_x']);
      assert.equal((await hub.accounts.page({ q: '%', offset: 0, limit: 10 })).count, 0);
      await database.close();
    });

    it('keeps the last administrator: neither demoted nor deleted', async () => {
      const { hub, registry, database } = await setupOn(open);
      await hub.accounts.create({ name: 'root1', password: 'correct horse', admin: true });
      await assert.rejects(hub.accounts.setAdmin('root1', false), kind('conflict'));
      await assert.rejects(hub.deleteAccount('root1', registry), kind('conflict'));
      assert.equal((await hub.accounts.setAdmin('alice', true)).admin, true);
      assert.equal((await hub.accounts.setAdmin('root1', false)).admin, false);
      await assert.rejects(hub.accounts.setAdmin('alice', false), kind('conflict'));
      await assert.rejects(hub.accounts.setAdmin('nobody', true), kind('not_found'));
      await hub.organizations.create('acme', 'alice');
      await assert.rejects(hub.accounts.setAdmin('acme', true), kind('not_found'), 'an organisation is never an administrator');
      assert.equal(await hub.accounts.countAdmins(), 1);
      await database.close();
    });
  });
}
