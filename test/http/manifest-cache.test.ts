// Two replicas (in-process servers) over one PostgreSQL schema, one storage directory and one
// Redis prefix: a tag moved or deleted through A is what B serves on the very next request,
// although B caches hot manifests in Redis.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { MT, pushManifest, uniqueName } from '../support/oci.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { deleteRedisPrefix, redisKeys, redisTestPrefix, redisTestUrl, skipUnlessRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skip = (await skipUnlessPostgres()).skip ?? (await skipUnlessRedis()).skip;

describe('manifest cache shared by replicas', { skip }, () => {
  const prefix = redisTestPrefix();
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    const shared = { 'redis.url': redisTestUrl(), 'redis.prefix': prefix };
    a = await startTestServer(shared, { backend: 'postgres' });
    b = await startTestServer(shared, { sharing: a });
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
    await deleteRedisPrefix(redisTestUrl(), prefix);
  });

  const get = async (server: TestServer, repo: string, reference: string, method = 'GET') => {
    const res = await fetch(`${server.url}/v2/${repo}/manifests/${reference}`, { method, headers: { accept: `${MT.OciManifest}, ${MT.OciIndex}` } });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, digest: res.headers.get('docker-content-digest'), body };
  };
  const served = async (server: TestServer, repo: string, reference: string) => {
    const res = await get(server, repo, reference);
    assert.equal(res.status, 200, `${repo}:${reference}`);
    return res.digest;
  };
  const remove = async (server: TestServer, repo: string, reference: string) => {
    const res = await fetch(`${server.url}/v2/${repo}/manifests/${reference}`, { method: 'DELETE' });
    await res.arrayBuffer();
    assert.equal(res.status, 202);
  };

  it('serves hot manifests from Redis (proof: a change behind its back is not seen), and a tag moved through A at once', async () => {
    const repo = `team/${uniqueName('app')}`;
    const one = await pushImage(a.url, repo, 'latest');
    const two = await pushImage(a.url, repo, 'two');
    assert.equal(await served(b, repo, 'latest'), one.digest);
    assert.ok((await redisKeys(redisTestUrl(), prefix)).includes(`mc:m:${repo}@latest`), 'B filled the cache');

    // moved in SQL behind Pier's back (no invalidation): B still serves the cached manifest
    await a.database.db.updateTable('tags').set({ digest: two.digest }).where('repository', '=', repo).where('name', '=', 'latest').execute();
    assert.equal(await served(b, repo, 'latest'), one.digest, 'served from the cache');
    assert.equal(await served(a, repo, 'latest'), one.digest, 'by every replica');

    // moved through A: B sees it on the next request, GET and HEAD
    const three = await pushImage(a.url, repo, 'latest');
    assert.equal(await served(b, repo, 'latest'), three.digest);
    assert.equal((await get(b, repo, 'latest', 'HEAD')).digest, three.digest);
    assert.deepEqual((await get(b, repo, 'latest')).body, three.manifest);
    // pushed as an extra tag (?tag=) of an existing manifest: the same
    await pushManifest(a.url, repo, `${one.digest}?tag=latest`, one.manifest, one.mediaType);
    assert.equal(await served(b, repo, 'latest'), one.digest);
  });

  it('a tag deleted through A is unknown on B at once', async () => {
    const repo = `team/${uniqueName('app')}`;
    const image = await pushImage(a.url, repo, 'latest');
    assert.equal(await served(b, repo, 'latest'), image.digest);
    assert.equal(await served(b, repo, 'latest'), image.digest);
    await remove(a, repo, 'latest');
    assert.equal((await get(b, repo, 'latest')).status, 404);
    assert.equal(await served(b, repo, image.digest), image.digest, 'the manifest itself stays');
  });

  it('a manifest deleted through A is unknown on B at once, by digest and by its tags', async () => {
    const repo = `team/${uniqueName('app')}`;
    const image = await pushImage(a.url, repo, 'latest');
    for (const reference of ['latest', image.digest, 'latest', image.digest]) assert.equal(await served(b, repo, reference), image.digest);
    await remove(a, repo, image.digest);
    assert.equal((await get(b, repo, 'latest')).status, 404);
    assert.equal((await get(b, repo, image.digest)).status, 404);
    assert.equal((await get(b, repo, image.digest, 'HEAD')).status, 404);
  });

  it('a namespace deleted through A (its repositories with it) is unknown on B at once', async () => {
    const namespace = uniqueName('gone');
    const repos = [`${namespace}/one`, `${namespace}/two`];
    const images: PushedImage[] = [];
    for (const repo of repos) images.push(await pushImage(a.url, repo, 'latest'));
    for (const [i, repo] of repos.entries()) assert.equal(await served(b, repo, 'latest'), images[i]!.digest);
    assert.deepEqual(await a.registry.deleteNamespace(namespace), repos);
    for (const repo of repos) assert.equal((await get(b, repo, 'latest')).status, 404);
  });

  it('never serves a replaced manifest after the push answered, while B is busy filling the cache', async () => {
    const repo = `team/${uniqueName('race')}`;
    let latest = (await pushImage(a.url, repo, 'latest')).digest;
    let stop = false;
    let stale = 0;
    // B under steady reads of the tag: fills race with A's changes all the time
    const readers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const expected = latest;
        const res = await get(b, repo, 'latest');
        // a read that began before a push answered may see either; one that began after must see the new one
        if (res.digest !== expected && res.digest !== latest) stale++;
      }
    });
    try {
      for (let i = 0; i < 15; i++) {
        const pushed = await pushImage(a.url, repo, 'latest');
        latest = pushed.digest;
        assert.equal(await served(b, repo, 'latest'), pushed.digest, `round ${i}`);
      }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    assert.equal(stale, 0);
  });
});
