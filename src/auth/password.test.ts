import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakePasswordCheck, hashPassword, passwordProblem, verifyPassword } from './password.js';

describe('password', () => {
  it('hashes with argon2id and verifies the right password only', async () => {
    const hash = await hashPassword('correct horse battery staple');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(hash, 'correct horse battery staple'), true);
    assert.equal(await verifyPassword(hash, 'correct horse battery stapler'), false);
    assert.equal(await verifyPassword(hash, ''), false);
  });

  it('salts: the same password hashes differently', async () => {
    assert.notEqual(await hashPassword('same password'), await hashPassword('same password'));
  });

  it('handles unicode passwords', async () => {
    const hash = await hashPassword('pässwörd-🔑');
    assert.equal(await verifyPassword(hash, 'pässwörd-🔑'), true);
    assert.equal(await verifyPassword(hash, 'passwörd-🔑'), false);
  });

  it('answers false for malformed hashes, never throws', async () => {
    const good = await hashPassword('password1');
    for (const bad of ['', 'x', '$argon2id$', '$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB', good.slice(0, -5), `${good}!!`, '$2b$10$abcdefghijklmnopqrstuv', null as unknown as string]) {
      assert.equal(await verifyPassword(bad, 'password1'), false, String(bad));
    }
  });

  it('fakePasswordCheck answers false', async () => {
    assert.equal(await fakePasswordCheck('anything'), false);
  });

  it('passwordProblem: length bounds in characters', () => {
    assert.match(passwordProblem('')!, /too short/);
    assert.match(passwordProblem('1234567')!, /too short/);
    assert.equal(passwordProblem('12345678'), undefined);
    assert.equal(passwordProblem('🔑🔑🔑🔑🔑🔑🔑🔑'), undefined);
    assert.equal(passwordProblem('x'.repeat(256)), undefined);
    assert.match(passwordProblem('x'.repeat(257))!, /too long/);
  });
});
