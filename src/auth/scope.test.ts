import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatScope, parseScopes, scopeKey } from './scope.js';

describe('parseScopes', () => {
  it('nothing', () => {
    assert.deepEqual(parseScopes(undefined), []);
    assert.deepEqual(parseScopes(''), []);
    assert.deepEqual(parseScopes([]), []);
  });

  it('one repository scope', () => {
    assert.deepEqual(parseScopes('repository:alice/app:pull,push'), [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
  });

  it('names with a host and port keep their colons', () => {
    assert.deepEqual(parseScopes('repository:localhost:5000/alice/app:pull,push'), [
      { type: 'repository', name: 'localhost:5000/alice/app', actions: ['pull', 'push'] },
    ]);
    assert.deepEqual(parseScopes('repository:registry.example.com:443/a/b/c:pull'), [
      { type: 'repository', name: 'registry.example.com:443/a/b/c', actions: ['pull'] },
    ]);
  });

  it('several scopes in one value, separated by spaces (the POST form)', () => {
    assert.deepEqual(parseScopes('repository:a/b:pull  repository:c/d:push registry:catalog:*'), [
      { type: 'repository', name: 'a/b', actions: ['pull'] },
      { type: 'repository', name: 'c/d', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('repeated values (the GET form) merge by resource, actions deduplicated', () => {
    assert.deepEqual(parseScopes(['repository:a/b:pull', 'repository:c/d:pull', 'repository:a/b:pull,push,pull', 'repository:a/b:delete']), [
      { type: 'repository', name: 'a/b', actions: ['pull', 'push', 'delete'] },
      { type: 'repository', name: 'c/d', actions: ['pull'] },
    ]);
  });

  it('empty actions are dropped; a scope with none is ignored', () => {
    assert.deepEqual(parseScopes('repository:a/b:,pull,,push,'), [{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }]);
    assert.deepEqual(parseScopes('repository:a/b:'), []);
    assert.deepEqual(parseScopes('repository:a/b:,,'), []);
  });

  it('registry:catalog:*', () => {
    assert.deepEqual(parseScopes('registry:catalog:*'), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  });

  it('the deprecated resource class is dropped', () => {
    assert.deepEqual(parseScopes('repository(plugin):vieux/sshfs:pull'), [{ type: 'repository', name: 'vieux/sshfs', actions: ['pull'] }]);
  });

  it('does not normalize names', () => {
    assert.deepEqual(parseScopes('repository:nginx:pull'), [{ type: 'repository', name: 'nginx', actions: ['pull'] }]);
  });

  it('ignores garbage and other types', () => {
    const garbage = [
      'repository',
      'repository:',
      'repository:a/b',
      'repository::pull',
      ':a/b:pull',
      'repo:a/b:pull',
      'Repository:a/b:pull',
      'user:alice:read',
      'repository(:a/b:pull',
      'repository(plugin:a/b:pull',
      ':::',
      'pull',
    ];
    assert.deepEqual(parseScopes(garbage), []);
    assert.deepEqual(parseScopes(['junk', 'repository:a/b:pull', 'aaa:bbb:ccc']), [{ type: 'repository', name: 'a/b', actions: ['pull'] }]);
    assert.deepEqual(parseScopes([42 as unknown as string, 'registry:catalog:*']), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  });

  it('formatScope round-trips', () => {
    for (const text of ['repository:localhost:5000/alice/app:pull,push', 'registry:catalog:*', 'repository:a/b:pull']) {
      const [scope] = parseScopes(text);
      assert.equal(formatScope(scope!), text);
    }
  });

  it('scopeKey', () => {
    assert.equal(scopeKey('repository', 'alice/app'), 'repository:alice/app');
  });
});
