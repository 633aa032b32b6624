import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayName, parseRepositoryPath, pullCommand, repositoryApi, repositoryPath } from './paths';

describe('repository paths', () => {
  it('round-trips every view, names of several components included', () => {
    for (const name of ['app', 'team/app', 'a.b/c__d/e-f']) {
      for (const view of ['overview', 'tags', 'insights', 'settings'] as const) {
        const path = repositoryPath('alice', name, view);
        assert.deepEqual(parseRepositoryPath(path.slice(3)), { namespace: 'alice', name, view });
      }
      const tagPath = repositoryPath('alice', name, 'tag', 'v1.0_rc');
      assert.deepEqual(parseRepositoryPath(tagPath.slice(3)), { namespace: 'alice', name, view: 'tag', tag: 'v1.0_rc' });
    }
  });

  it('names nothing for what cannot be a repository or a view', () => {
    for (const splat of ['alice', 'alice/', 'Alice/app', 'alice/-app', 'alice/app/-/nope', 'alice/app/-/tags/a/b', '-/tags', 'alice/app/-']) {
      assert.equal(parseRepositoryPath(splat), undefined, splat);
    }
  });

  it('encodes a name for the API and drops library/ from what people type', () => {
    assert.equal(repositoryApi('alice', 'team/app'), '/repositories/alice/team%2Fapp');
    assert.equal(displayName('library', 'nginx'), 'nginx');
    assert.equal(pullCommand('pier.example:5000', 'alice', 'app', '1.0'), 'docker pull pier.example:5000/alice/app:1.0');
    assert.equal(pullCommand('h', 'library', 'nginx'), 'docker pull h/nginx');
  });
});
