import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from './errors.js';
import { digestAlgorithm, digestHex, parseDigest } from './digest.js';

const HEX64 = 'a'.repeat(64);

describe('parseDigest', () => {
  it('accepts sha256 and sha512', () => {
    assert.equal(parseDigest(`sha256:${HEX64}`), `sha256:${HEX64}`);
    const d = parseDigest(`sha512:${'b'.repeat(128)}`);
    assert.equal(digestAlgorithm(d), 'sha512');
    assert.equal(digestHex(d), 'b'.repeat(128));
  });

  for (const bad of ['', 'sha256', `sha256:${HEX64.slice(1)}`, `sha256:${HEX64.toUpperCase()}`, 'sha256:totallywrong', `md5:${HEX64}`, `SHA256:${HEX64}`, `sha256:${HEX64}/x`, `sha256:../${HEX64}`]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 30))} with DIGEST_INVALID`, () => {
      assert.throws(() => parseDigest(bad), (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID' && e.status === 400);
    });
  }
});
