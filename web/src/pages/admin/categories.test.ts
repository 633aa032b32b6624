import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slugOf } from './categories';

describe('a category\'s slug from its name', () => {
  it('lowercases, drops accents and joins words with single hyphens, as the API wants', () => {
    assert.equal(slugOf('Web Servers'), 'web-servers');
    assert.equal(slugOf('Databases & Storage'), 'databases-and-storage');
    assert.equal(slugOf('  Sécurité réseau  '), 'securite-reseau');
    assert.equal(slugOf('CI/CD -- tools!'), 'ci-cd-tools');
    assert.match(slugOf('Machine Learning & AI'), /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.equal(slugOf('!!!'), '');
  });
});
