import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLiteral, matches, matchesAny, repositoryPatternProblem, tagPatternProblem } from './patterns.js';

describe('replication patterns', () => {
  it('matches repository names component by component, ** across them', () => {
    assert.ok(matches('alice/*', 'alice/app'));
    assert.ok(!matches('alice/*', 'alice/team/app'));
    assert.ok(matches('alice/**', 'alice/team/app'));
    assert.ok(!matches('alice/**', 'bob/app'));
    assert.ok(matches('*/app', 'bob/app'));
    assert.ok(matches('library/ng?nx', 'library/nginx'));
    assert.ok(!matches('library/nginx', 'library/nginx2'));
    assert.ok(!matches('a.b/*', 'axb/c'), 'a dot is a dot');
    assert.ok(matchesAny(['x/*', 'alice/app'], 'alice/app'));
  });

  it('matches tags, where * spans everything', () => {
    assert.ok(matches('v1.*', 'v1.2.3', ''));
    assert.ok(!matches('v1.*', 'v2.0', ''));
    assert.ok(matches('*', 'latest', ''));
  });

  it('says which patterns are not patterns, and which are plain names', () => {
    assert.equal(repositoryPatternProblem('alice/*'), undefined);
    assert.match(repositoryPatternProblem('Alice/(x)') ?? '', /not a repository pattern/);
    assert.match(tagPatternProblem('v1/2') ?? '', /not a tag pattern/);
    assert.ok(isLiteral('library/nginx'));
    assert.ok(!isLiteral('library/*'));
  });
});
