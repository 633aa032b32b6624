import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ManifestRecord } from '../metadata/registry-index.js';
import type { RepositoryName } from '../oci/names.js';
import type { ManifestCache, ManifestCacheRead } from '../registry/ports.js';

export interface ManifestCachesUnderTest {
  /** two replicas' views of one cache (the same object for a cache in one process) */
  a: ManifestCache;
  b: ManifestCache;
  cleanup?: () => Promise<void>;
}

export const repo = 'alice/app' as RepositoryName;

export function manifestRecord(text: string, digest = `sha256:${Buffer.from(text).toString('hex').padEnd(64, '0').slice(0, 64)}`): ManifestRecord {
  const content = Buffer.from(text);
  return { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: content.length, content };
}

/** The fill of a read that must be a miss. */
export function missOf(read: ManifestCacheRead): (record: ManifestRecord) => Promise<void> {
  assert.equal(read.record, undefined, 'a miss');
  return read.fill!;
}

/** The contract of every ManifestCache (in process, Redis). */
export function manifestCacheSuite(
  name: string,
  create: (options: { maxEntryBytes?: number }) => Promise<ManifestCachesUnderTest>,
  describeOptions: { skip?: string } = {},
): void {
  describe(`ManifestCache: ${name}`, describeOptions, () => {
    const withCaches =
      (test: (c: ManifestCachesUnderTest) => Promise<void>, options: { maxEntryBytes?: number } = {}) =>
      async () => {
        const caches = await create(options);
        try {
          await test(caches);
        } finally {
          await caches.cleanup?.();
        }
      };

    it('misses, is filled, and hits, by tag and by digest, bytes intact', withCaches(async ({ a, b }) => {
      const binary = { ...manifestRecord('x'), content: Buffer.from([0, 10, 13, 255, 10, 0x7b]), size: 6 };
      await missOf(await a.read(repo, 'latest'))(binary);
      await missOf(await a.read(repo, binary.digest))(binary);
      assert.deepEqual((await b.read(repo, 'latest')).record, binary);
      assert.deepEqual((await b.read(repo, binary.digest)).record, binary);
      assert.equal((await b.read(repo, 'other')).record, undefined);
      assert.equal((await b.read('alice/other' as RepositoryName, 'latest')).record, undefined);
    }));

    it('an invalidation is seen by the next read, and only for that repository', withCaches(async ({ a, b }) => {
      const kept = 'alice/keep' as RepositoryName;
      await missOf(await a.read(repo, 'latest'))(manifestRecord('v1'));
      await missOf(await a.read(repo, 'v1'))(manifestRecord('v1'));
      await missOf(await a.read(kept, 'latest'))(manifestRecord('kept'));
      assert.ok((await b.read(repo, 'latest')).record, 'a hit before the change');
      await a.invalidate(repo);
      assert.equal((await b.read(repo, 'latest')).record, undefined);
      assert.equal((await b.read(repo, 'v1')).record, undefined);
      assert.ok((await b.read(kept, 'latest')).record, 'other repositories keep their entries');
    }));

    it('refuses a fill that raced with a change: what was read before it is never cached', withCaches(async ({ a, b }) => {
      // B misses (and reads the old row from the index), A changes the tag and invalidates, B fills
      const fill = missOf(await b.read(repo, 'latest'));
      await a.invalidate(repo);
      await fill(manifestRecord('old'));
      const again = await b.read(repo, 'latest');
      assert.equal(again.record, undefined, 'the stale fill was refused');
      await missOf(again)(manifestRecord('new'));
      assert.deepEqual((await a.read(repo, 'latest')).record, manifestRecord('new'));

      // the same on a repository's first read ever
      const fresh = 'bob/fresh' as RepositoryName;
      const first = missOf(await b.read(fresh, 'latest'));
      await a.invalidate(fresh);
      await first(manifestRecord('old'));
      assert.equal((await a.read(fresh, 'latest')).record, undefined);
    }));

    it('keeps one entry when two reads race to fill the same miss', withCaches(async ({ a, b }) => {
      const fills = [missOf(await a.read(repo, 'latest')), missOf(await b.read(repo, 'latest'))];
      await Promise.all(fills.map((fill) => fill(manifestRecord('same'))));
      assert.deepEqual((await a.read(repo, 'latest')).record, manifestRecord('same'));
    }));

    it('does not cache manifests larger than maxEntryBytes', withCaches(async ({ a, b }) => {
      await missOf(await a.read(repo, 'big'))(manifestRecord('x'.repeat(1025)));
      await missOf(await a.read(repo, 'small'))(manifestRecord('x'.repeat(1024)));
      assert.equal((await b.read(repo, 'big')).record, undefined);
      assert.ok((await b.read(repo, 'small')).record, 'a manifest of maxEntryBytes is cached');
    }, { maxEntryBytes: 1024 }));
  });
}
