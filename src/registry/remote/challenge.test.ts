import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenge } from './challenge.js';

describe('WWW-Authenticate challenges', () => {
  it('reads a Bearer challenge as registries write it, scopes with commas included', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push repository:a/b:pull"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull,push repository:a/b:pull' },
    });
  });

  it('reads Basic, unquoted values, escaped quotes and spaces around the separators', () => {
    assert.deepEqual(parseChallenge('Basic realm="Registry \\"Realm\\""'), { scheme: 'basic', params: { realm: 'Registry "Realm"' } });
    assert.deepEqual(parseChallenge('bearer realm=https://x/token , service = reg ,error="insufficient_scope"'), {
      scheme: 'bearer',
      params: { realm: 'https://x/token', service: 'reg', error: 'insufficient_scope' },
    });
    assert.equal(parseChallenge(undefined), undefined);
    assert.equal(parseChallenge(''), undefined);
    assert.deepEqual(parseChallenge(['Basic realm="a"', 'Bearer realm="b"']), { scheme: 'basic', params: { realm: 'a' } });
  });
});
