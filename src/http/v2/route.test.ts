import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchV2Route } from './route.js';

describe('matchV2Route', () => {
  const cases: Array<[string, unknown]> = [
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'base' }],
    ['/v2/_catalog', { kind: 'catalog' }],
    ['/v2/a/b/tags/list', { kind: 'tags', name: 'a/b' }],
    ['/v2/x/manifests/blobs/tags/list', { kind: 'tags', name: 'x/manifests/blobs' }],
    ['/v2/x/tags/manifests/latest', { kind: 'manifest', name: 'x/tags', reference: 'latest' }],
    ['/v2/a/blobs/sha256%3Aabc', { kind: 'blob', name: 'a', digest: 'sha256:abc' }],
    ['/v2/a/b/blobs/uploads/', { kind: 'uploads', name: 'a/b' }],
    ['/v2/a/b/blobs/uploads', { kind: 'uploads', name: 'a/b' }],
    ['/v2/a/b/blobs/uploads/123-abc', { kind: 'upload', name: 'a/b', uploadId: '123-abc' }],
    ['/v2/blobs/uploads/blobs/uploads/x', { kind: 'upload', name: 'blobs/uploads', uploadId: 'x' }],
    ['/v2/a/referrers/sha256:abc', { kind: 'referrers', name: 'a', digest: 'sha256:abc' }],
    ['/v2/a/tags/other', undefined],
    ['/v2/a/unknown/thing', undefined],
    ['/v2/a', undefined],
    ['/v2/a/%E0%A4%A', undefined],
    ['/v3/a/tags/list', undefined],
  ];
  for (const [path, expected] of cases) {
    it(path, () => assert.deepEqual(matchV2Route(path), expected));
  }
});
