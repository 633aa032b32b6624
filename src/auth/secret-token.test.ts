import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashSecret, newSecret, sameHash, secretKind } from './secret-token.js';

describe('secret tokens', () => {
  it('personal access tokens: prefix, 43 base64url characters, sha256 of the whole secret', () => {
    const { secret, hash } = newSecret('pat');
    assert.match(secret, /^pier_pat_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(secret.slice('pier_pat_'.length), 'base64url').length, 32);
    assert.equal(hash, createHash('sha256').update(secret).digest('hex'));
    assert.equal(hashSecret(secret), hash);
    assert.match(hash, /^[0-9a-f]{64}$/);
  });

  it('refresh tokens', () => {
    const { secret, hash } = newSecret('refresh');
    assert.match(secret, /^pier_rt_[A-Za-z0-9_-]{43}$/);
    assert.equal(hashSecret(secret), hash);
  });

  it('browser sessions (the session cookie)', () => {
    const { secret, hash } = newSecret('session');
    assert.match(secret, /^pier_bs_[A-Za-z0-9_-]{43}$/);
    assert.equal(hashSecret(secret), hash);
    assert.equal(secretKind(secret), 'session');
  });

  it('is random', () => {
    const seen = new Set(Array.from({ length: 200 }, () => newSecret('pat').secret));
    assert.equal(seen.size, 200);
  });

  it('secretKind by prefix and shape', () => {
    for (let i = 0; i < 50; i++) {
      assert.equal(secretKind(newSecret('pat').secret), 'pat');
      assert.equal(secretKind(newSecret('refresh').secret), 'refresh');
    }
    const body = newSecret('pat').secret.slice('pier_pat_'.length);
    assert.equal(secretKind(`pier_rt_${body}`), 'refresh');
    for (const other of ['', 'hunter22', 'pier_pat_', `pier_pat_${body}x`, `pier_pat_${body.slice(1)}`, `pier_pat_${body.slice(0, -1)}+`, `PIER_PAT_${body}`, `pier_xx_${body}`, ` pier_pat_${body}`, `pier_pat_${body}\n`]) {
      assert.equal(secretKind(other), undefined, other);
    }
  });

  it('sameHash compares in constant time', () => {
    const { hash } = newSecret('pat');
    assert.equal(sameHash(hash, hash), true);
    assert.equal(sameHash(hash, hashSecret('other')), false);
    assert.equal(sameHash(hash, hash.slice(1)), false);
  });
});
