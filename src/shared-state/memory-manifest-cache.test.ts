import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manifestCacheSuite, manifestRecord, missOf, repo } from './manifest-cache.suite.js';
import { MemoryManifestCache } from './memory-manifest-cache.js';

manifestCacheSuite('in process', async (options) => {
  const cache = new MemoryManifestCache({ now: () => 0, changeToken: async () => 1, ...options });
  return { a: cache, b: cache };
});

describe('MemoryManifestCache', () => {
  it('drops everything when another process changed the database', async () => {
    let token = 1;
    const cache = new MemoryManifestCache({ now: () => 0, changeToken: async () => token });
    await missOf(await cache.read(repo, 'latest'))(manifestRecord('v1'));
    assert.ok((await cache.read(repo, 'latest')).record, 'a hit');
    token++;
    assert.equal((await cache.read(repo, 'latest')).record, undefined);
    assert.deepEqual(cache.stats, { entries: 0, bytes: 0 });
  });

  it('refuses a fill whose read began before another process changed the database', async () => {
    let token = 1;
    const cache = new MemoryManifestCache({ now: () => 0, changeToken: async () => token });
    const fill = missOf(await cache.read(repo, 'latest'));
    token++;
    await cache.read('other/repo' as never, 'x'); // any read notices the change
    await fill(manifestRecord('old'));
    assert.equal((await cache.read(repo, 'latest')).record, undefined);
  });

  it('bypasses itself when the change token cannot be read', async () => {
    let fail = false;
    const cache = new MemoryManifestCache({ now: () => 0, changeToken: async () => (fail ? Promise.reject(new Error('busy')) : 1) });
    await missOf(await cache.read(repo, 'latest'))(manifestRecord('v1'));
    fail = true;
    assert.equal((await cache.read(repo, 'latest')).record, undefined);
  });

  it('expires entries after ttlMs and bounds the bytes held, least recently used first', async () => {
    const clock = { t: 0 };
    const cache = new MemoryManifestCache({ now: () => clock.t, changeToken: async () => 1, ttlMs: 1000, maxBytes: 3000 });
    await missOf(await cache.read(repo, 'a'))(manifestRecord('a'.repeat(1000)));
    await missOf(await cache.read(repo, 'b'))(manifestRecord('b'.repeat(1000)));
    await missOf(await cache.read(repo, 'c'))(manifestRecord('c'.repeat(1000)));
    assert.ok((await cache.read(repo, 'a')).record, 'a is used: b is now the least recently used');
    await missOf(await cache.read(repo, 'd'))(manifestRecord('d'.repeat(1000)));
    assert.deepEqual(cache.stats, { entries: 3, bytes: 3000 });
    assert.equal((await cache.read(repo, 'b')).record, undefined);
    clock.t = 999;
    assert.ok((await cache.read(repo, 'c')).record, 'alive until its TTL');
    clock.t = 1000;
    assert.equal((await cache.read(repo, 'c')).record, undefined);
  });
});
