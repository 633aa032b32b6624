import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from './errors.js';
import { namespaceOf, normalizeRepositoryName, parseReference, parseTag } from './names.js';

describe('repository names', () => {
  it('maps a one-part name to the official namespace', () => {
    assert.equal(normalizeRepositoryName('nginx'), 'library/nginx');
    assert.equal(normalizeRepositoryName('library/nginx'), 'library/nginx');
    assert.equal(normalizeRepositoryName('alice/team/app'), 'alice/team/app');
  });

  it('names the namespace of a repository: its first component', () => {
    assert.equal(namespaceOf('alice/team/app'), 'alice');
    assert.equal(namespaceOf('library/nginx'), 'library');
    assert.equal(namespaceOf('solo'), 'solo');
  });

  it('accepts the grammar of the spec', () => {
    for (const name of ['a', 'a0/b-c', 'a__b/c.d', 'a---b', 'x/manifests/blobs/tags']) assert.doesNotThrow(() => normalizeRepositoryName(name));
  });

  for (const bad of ['', 'Alice/app', '../etc', 'a/../b', 'a//b', '/a', 'a/', 'a_', '-a', 'a...b', 'a/b:1', 'a'.repeat(256)]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 30))} with NAME_INVALID`, () => {
      assert.throws(() => normalizeRepositoryName(bad), (e: unknown) => e instanceof OciError && e.code === 'NAME_INVALID');
    });
  }
});

describe('references', () => {
  it('tells tags from digests', () => {
    assert.deepEqual(parseReference('v1.0_rc-1'), { kind: 'tag', tag: 'v1.0_rc-1' });
    assert.equal(parseReference(`sha256:${'0'.repeat(64)}`).kind, 'digest');
  });

  it('refuses tags outside the grammar', () => {
    for (const bad of ['.hidden', '-x', 'a'.repeat(129), 'a/b', '']) {
      assert.throws(() => parseTag(bad), (e: unknown) => e instanceof OciError && e.status === 400);
    }
    assert.doesNotThrow(() => parseTag('a'.repeat(128)));
  });
});
