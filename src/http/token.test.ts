import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestedScopes } from './token.js';

describe('requestedScopes', () => {
  it('normalizes names as /v2 sees them and merges duplicates', () => {
    assert.deepEqual(requestedScopes(['repository:nginx:pull', 'repository:library/nginx:push', 'repository:alice/app:pull,push'], undefined), [
      { type: 'repository', name: 'library/nginx', actions: ['pull', 'push'] },
      { type: 'repository', name: 'alice/app', actions: ['pull', 'push'] },
    ]);
  });

  it('strips this registry\'s own host:port, and drops other hosts and invalid names', () => {
    assert.deepEqual(
      requestedScopes(['repository:LocalHost:5000/alice/app:pull repository:other:5000/alice/app:push', 'repository:UPPER/case:pull', 'repository:a//b:pull'], 'localhost:5000'),
      [{ type: 'repository', name: 'alice/app', actions: ['pull'] }],
    );
  });

  it('keeps the catalog and no other registry resource', () => {
    assert.deepEqual(requestedScopes(['registry:catalog:*', 'registry:other:*', 'plugin:x:pull'], undefined), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  });

  it('honours a bounded number of scopes', () => {
    const many = Array.from({ length: 200 }, (_, i) => `repository:alice/r${i}:pull`);
    assert.equal(requestedScopes(many, undefined).length, 64);
  });
});
