import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader, importJWK, jwtVerify, SignJWT, generateKeyPair } from 'jose';
import type { MetadataDatabase } from '../metadata/database.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import {
  CLOCK_TOLERANCE_SECONDS,
  InvalidTokenError,
  KeyRing,
  RETIRED_KEY_GRACE_MS,
  UNKNOWN_KID_RELOAD_INTERVAL_MS,
} from './signing-keys.js';
import { sqlSigningKeyStore, type SigningKeyStore } from './signing-key-store.js';

const ISSUER = 'pier';
const AUDIENCE = 'registry.example.com';
const SIGN = { expiresInSeconds: 300, issuer: ISSUER, audience: AUDIENCE, subject: 'alice' };
const CHECK = { issuer: ISSUER, audience: AUDIENCE };
const T0 = Date.UTC(2025, 0, 1);

/** A store that counts its reads. */
function counting(store: SigningKeyStore): SigningKeyStore & { lists: number } {
  const counted = {
    lists: 0,
    list: () => {
      counted.lists++;
      return store.list();
    },
    insert: (key: Parameters<SigningKeyStore['insert']>[0]) => store.insert(key),
    retire: (kid: string, at: number) => store.retire(kid, at),
  };
  return counted;
}

class Clock {
  constructor(public ms = T0) {}
  now = () => this.ms;
  advance(ms: number) {
    this.ms += ms;
  }
}

const invalid = (pattern?: RegExp) => (e: unknown) => e instanceof InvalidTokenError && (!pattern || pattern.test(e.message));

for (const { name, open, options } of await testDatabases()) {
  describe(`KeyRing: ${name}`, options, () => {
    let database: MetadataDatabase;
    let store: SigningKeyStore;
    const secret = randomBytes(32);

    before(async () => {
      database = await open();
    });
    after(async () => {
      await database.close();
    });

    async function fresh(): Promise<{ store: SigningKeyStore; clear: () => Promise<void> }> {
      await database.db.deleteFrom('signing_keys').execute();
      store = sqlSigningKeyStore(database.db);
      return { store, clear: async () => void (await database.db.deleteFrom('signing_keys').execute()) };
    }

    it('first open generates one key, stored encrypted; a second ring reuses it', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const rows = await database.db.selectFrom('signing_keys').selectAll().execute();
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.kid, ring.signingKey().kid);
      assert.equal(row.algorithm, 'ES256');
      assert.equal(row.created_at, T0);
      assert.equal(row.retired_at, null);
      assert.match(row.kid, /^[A-Za-z0-9_-]{43}$/);
      assert.match(row.private_jwk_encrypted, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
      assert.ok(!row.private_jwk_encrypted.includes('"d"'));
      const publicJwk = JSON.parse(row.public_jwk);
      assert.equal(publicJwk.d, undefined);
      assert.equal(publicJwk.kty, 'EC');

      const second = await KeyRing.open({ store, secret, now: clock.now });
      assert.equal(second.signingKey().kid, ring.signingKey().kid);
      assert.equal((await store.list()).length, 1);

      const token = await ring.sign({ access: [] }, SIGN);
      assert.equal((await second.verify(token, CHECK)).sub, 'alice');
      const back = await second.sign({}, SIGN);
      assert.equal((await ring.verify(back, CHECK)).sub, 'alice');
    });

    it('tokens carry kid, typ, iss, aud, sub, iat, nbf, exp, jti and the payload', async () => {
      const { store } = await fresh();
      const clock = new Clock(T0 + 999);
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const access = [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }];
      const token = await ring.sign({ access }, SIGN);
      assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: ring.signingKey().kid, typ: 'JWT' });
      const claims = await ring.verify(token, CHECK);
      const seconds = Math.floor(T0 / 1000);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, AUDIENCE);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.iat, seconds);
      assert.equal(claims.nbf, seconds);
      assert.equal(claims.exp, seconds + 300);
      assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
      assert.deepEqual(claims.access, access);
      const other = await ring.verify(await ring.sign({ access }, SIGN), CHECK);
      assert.notEqual(other.jti, claims.jti);

      // the options win over payload fields of the same name
      const forged = await ring.verify(await ring.sign({ sub: 'root', iss: 'x', aud: 'y', exp: 1 }, SIGN), CHECK);
      assert.equal(forged.sub, 'alice');

      // any JOSE library verifies it with the published key
      const jwk = ring.jwks().keys[0]!;
      const { payload } = await jwtVerify(token, await importJWK(jwk, 'ES256'), { ...CHECK, currentDate: new Date(clock.ms) });
      assert.equal(payload.sub, 'alice');
    });

    it('rejects expired and not-yet-valid tokens, with the documented clock tolerance', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const token = await ring.sign({}, { ...SIGN, expiresInSeconds: 60 });
      clock.advance((60 + CLOCK_TOLERANCE_SECONDS - 1) * 1000);
      await ring.verify(token, CHECK);
      clock.advance(2000);
      await assert.rejects(ring.verify(token, CHECK), invalid(/exp/));
      clock.ms = T0 - (CLOCK_TOLERANCE_SECONDS + 2) * 1000;
      await assert.rejects(ring.verify(token, CHECK), invalid(/nbf/));
    });

    it('rejects a wrong audience or issuer', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const token = await ring.sign({}, SIGN);
      await assert.rejects(ring.verify(token, { ...CHECK, audience: 'other.example.com' }), invalid(/aud/));
      await assert.rejects(ring.verify(token, { ...CHECK, issuer: 'other' }), invalid(/iss/));
    });

    it('a remembered token is still checked for audience, issuer and time; its payload is frozen', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const token = await ring.sign({ access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }] }, { ...SIGN, expiresInSeconds: 10 });
      const first = await ring.verify(token, CHECK);
      assert.equal(await ring.verify(token, CHECK), first, 'the second verify is answered from memory');
      assert.ok(Object.isFrozen(first) && Object.isFrozen((first.access as object[])[0]));
      assert.throws(() => {
        (first as { sub?: string }).sub = 'root';
      }, TypeError);
      await assert.rejects(ring.verify(token, { ...CHECK, audience: 'elsewhere' }), invalid(/aud/));
      await assert.rejects(ring.verify(token, { ...CHECK, issuer: 'elsewhere' }), invalid(/iss/));
      await ring.verify(token, CHECK);
      clock.ms = T0 - (CLOCK_TOLERANCE_SECONDS + 1) * 1000;
      await assert.rejects(ring.verify(token, CHECK), invalid(/nbf/));
      clock.ms = T0;
      await ring.verify(token, CHECK);
      clock.advance((10 + CLOCK_TOLERANCE_SECONDS) * 1000 - 1);
      await ring.verify(token, CHECK);
      clock.advance(1);
      await assert.rejects(ring.verify(token, CHECK), invalid(/exp/));
    });

    it('rejects tampered tokens, other keys, other algorithms, tokens without kid or exp', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const token = await ring.sign({ access: [] }, SIGN);
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const changed = Buffer.from(JSON.stringify({ ...claims, sub: 'root' })).toString('base64url');
      await assert.rejects(ring.verify(`${header}.${changed}.${signature}`, CHECK), invalid());
      await assert.rejects(ring.verify(`${header}.${payload}.${signature.slice(0, -4)}AAAA`, CHECK), invalid());
      for (const junk of ['', 'a.b.c', 'not a token', `${header}.${payload}`]) await assert.rejects(ring.verify(junk, CHECK), invalid(), junk);

      const kid = ring.signingKey().kid;
      const stranger = await generateKeyPair('ES256');
      const iat = Math.floor(clock.ms / 1000);
      const build = (h: Record<string, unknown>, p: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: iat + 60 }) =>
        new SignJWT(p).setProtectedHeader({ alg: 'ES256', ...h });
      // right kid, wrong key
      await assert.rejects(ring.verify(await build({ kid }).sign(stranger.privateKey), CHECK), invalid(/signature/));
      // no kid
      await assert.rejects(ring.verify(await build({}).sign(stranger.privateKey), CHECK), invalid(/kid/));
      // no exp
      await assert.rejects(ring.verify(await build({ kid }, { iss: ISSUER, aud: AUDIENCE }).sign(stranger.privateKey), CHECK), invalid());
      // HS256 with the public key as secret, and alg none
      const hs = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: iat + 60 })
        .setProtectedHeader({ alg: 'HS256', kid })
        .sign(Buffer.from(JSON.stringify(ring.jwks().keys[0])));
      await assert.rejects(ring.verify(hs, CHECK), invalid());
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid })).toString('base64url')}.${payload}.`;
      await assert.rejects(ring.verify(none, CHECK), invalid());
    });

    it('rotate: the new key signs, old tokens still verify, jwks lists both without private parts', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const oldKid = ring.signingKey().kid;
      const before = await ring.sign({}, SIGN);
      const newKid = await ring.rotate(); // same millisecond: still strictly newer
      assert.notEqual(newKid, oldKid);
      assert.equal(ring.signingKey().kid, newKid);
      const afterToken = await ring.sign({}, SIGN);
      assert.equal(decodeProtectedHeader(afterToken).kid, newKid);
      await ring.verify(before, CHECK);
      await ring.verify(afterToken, CHECK);

      const { keys } = ring.jwks();
      assert.deepEqual(keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());
      for (const key of keys) {
        assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
        assert.equal(key.alg, 'ES256');
        assert.equal(key.use, 'sig');
        assert.equal(key.d, undefined);
      }

      // a ring opened afterwards signs with the newest key too
      const other = await KeyRing.open({ store, secret, now: clock.now });
      assert.equal(other.signingKey().kid, newKid);
    });

    it('a key another replica rotated in is picked up by one reload, throttled for unknown kids', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const counted = counting(store);
      const a = await KeyRing.open({ store: counted, secret, now: clock.now });
      const b = await KeyRing.open({ store, secret, now: clock.now });
      const loadsAtOpen = counted.lists;

      await b.rotate();
      const token = await b.sign({}, SIGN);
      assert.equal((await a.verify(token, CHECK)).sub, 'alice');
      assert.equal(counted.lists, loadsAtOpen + 1);
      await a.verify(token, CHECK);
      assert.equal(counted.lists, loadsAtOpen + 1, 'known kid: no reload');

      // unknown kids: at most one reload per interval
      const stranger = await generateKeyPair('ES256');
      const junk = (kid: string) =>
        new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: Math.floor(clock.ms / 1000) + 60 }).setProtectedHeader({ alg: 'ES256', kid }).sign(stranger.privateKey);
      await assert.rejects(a.verify(await junk('nope-1'), CHECK), invalid(/unknown key/));
      assert.equal(counted.lists, loadsAtOpen + 1, 'throttled: reloaded for the rotated key just now');
      clock.advance(UNKNOWN_KID_RELOAD_INTERVAL_MS);
      await assert.rejects(a.verify(await junk('nope-2'), CHECK), invalid(/unknown key/));
      assert.equal(counted.lists, loadsAtOpen + 2);
      await Promise.all(Array.from({ length: 20 }, async (_, i) => assert.rejects(a.verify(await junk(`nope-x${i}`), CHECK), invalid())));
      assert.equal(counted.lists, loadsAtOpen + 2);

      // a key added within the throttle window is found once it is over
      await b.rotate();
      const newer = await b.sign({}, SIGN);
      await assert.rejects(a.verify(newer, CHECK), invalid(/unknown key/));
      clock.advance(UNKNOWN_KID_RELOAD_INTERVAL_MS);
      await a.verify(newer, CHECK);
    });

    it('retired keys stop signing, verify for the grace period, then are rejected and unpublished', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const ring = await KeyRing.open({ store, secret, now: clock.now });
      const oldKid = ring.signingKey().kid;
      const newKid = await ring.rotate();
      // rotate() keeps the old key active; sign with it by retiring the new one first
      clock.advance(1000);
      const byOld = await KeyRing.open({ store, secret, now: clock.now });
      await byOld.retire(newKid);
      assert.equal(byOld.signingKey().kid, oldKid);
      const tokenOld = await byOld.sign({}, { ...SIGN, expiresInSeconds: 7200 });

      // retire the old key too: a fresh key is made, since none is left active
      await byOld.retire(oldKid);
      const fresh3 = byOld.signingKey().kid;
      assert.ok(fresh3 !== oldKid && fresh3 !== newKid);
      const rows = await store.list();
      assert.deepEqual(rows.map((r) => [r.kid, r.retiredAt]).sort(), [[oldKid, clock.ms], [newKid, clock.ms], [fresh3, null]].sort());

      await byOld.verify(tokenOld, CHECK);
      assert.deepEqual(byOld.jwks().keys.map((k) => k.kid).sort(), [oldKid, newKid, fresh3].sort());

      // the first ring learns of the retirements on its background refresh
      clock.advance(RETIRED_KEY_GRACE_MS - 1); // retired at the clock's time: now the last valid millisecond
      await ring.verify(tokenOld, CHECK);
      await ring.reload();
      assert.equal(ring.signingKey().kid, fresh3, 'retired keys no longer sign');
      await ring.verify(tokenOld, CHECK);
      clock.advance(1);
      await assert.rejects(ring.verify(tokenOld, CHECK), invalid(/retired/));
      await assert.rejects(byOld.verify(tokenOld, CHECK), invalid(/retired/));
      assert.deepEqual(byOld.jwks().keys.map((k) => k.kid), [fresh3]);

      // a new ring over retired keys only would generate an active one
      const onlyRetired = (await store.list()).filter((r) => r.retiredAt !== null);
      const memory = memoryStore(onlyRetired);
      const ring2 = await KeyRing.open({ store: memory, secret, now: clock.now });
      assert.ok(![oldKid, newKid].includes(ring2.signingKey().kid));
    });

    it('the background refresh picks up retirements made elsewhere without blocking verify', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const counted = counting(store);
      const a = await KeyRing.open({ store: counted, secret, now: clock.now });
      const b = await KeyRing.open({ store, secret, now: clock.now });
      const token = await a.sign({}, { ...SIGN, expiresInSeconds: 3 * 3600 });
      await b.retire(a.signingKey().kid);
      const lists = counted.lists;
      clock.advance(60_000);
      await a.verify(token, CHECK);
      assert.equal(counted.lists, lists + 1);
      await new Promise((resolve) => setImmediate(resolve));
      await a.reload();
      assert.equal(a.signingKey().kid, b.signingKey().kid);
      clock.advance(RETIRED_KEY_GRACE_MS);
      await assert.rejects(a.verify(token, CHECK), invalid(/retired/));
    });

    it('replicas generating together: several active keys, all verify, the newest signs', async () => {
      const { store } = await fresh();
      const clock = new Clock();
      const rings = await Promise.all(Array.from({ length: 3 }, () => KeyRing.open({ store, secret, now: clock.now })));
      const kids = new Set(rings.map((r) => r.signingKey().kid));
      assert.ok((await store.list()).length >= 1);
      for (const signer of rings) {
        const token = await signer.sign({}, SIGN);
        for (const verifier of rings) await verifier.verify(token, CHECK);
      }
      const late = await KeyRing.open({ store, secret, now: clock.now });
      assert.ok(kids.has(late.signingKey().kid));
      assert.equal(late.jwks().keys.length, (await store.list()).length);
    });

    it('a wrong installation secret fails at open, clearly', async () => {
      const { store } = await fresh();
      await KeyRing.open({ store, secret });
      await assert.rejects(KeyRing.open({ store, secret: randomBytes(32) }), /the installation secret does not match the signing keys in the database/);
      await assert.rejects(KeyRing.open({ store, secret: randomBytes(16) }), /32 bytes/);
    });

    it('a tampered or foreign ciphertext fails (the kid is bound to it)', async () => {
      const base = memoryStore([]);
      const ring = await KeyRing.open({ store: base, secret });
      await ring.rotate();
      const [one, two] = await base.list();
      const swapped = memoryStore([{ ...one!, privateJwkEncrypted: two!.privateJwkEncrypted }]);
      await assert.rejects(KeyRing.open({ store: swapped, secret }), /does not match/);
    });
  });
}

function memoryStore(initial: Awaited<ReturnType<SigningKeyStore['list']>>): SigningKeyStore {
  const rows = initial.map((r) => ({ ...r }));
  return {
    list: async () => rows.map((r) => ({ ...r })),
    insert: async (key) => {
      if (rows.some((r) => r.kid === key.kid)) throw new Error('duplicate kid');
      rows.push({ ...key });
    },
    retire: async (kid, at) => {
      for (const r of rows) if (r.kid === kid && r.retiredAt === null) r.retiredAt = at;
    },
  };
}
