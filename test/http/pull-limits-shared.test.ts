// Two replicas (in-process servers) over one PostgreSQL schema, one storage directory and one Redis
// prefix: a client's pulls count against one allowance whichever replica answers, and pull counts
// written by both add up.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { ACCEPT_ALL, makeImage, makeIndex, OCI_INDEX, pushImage } from '../support/images.js';
import { pushManifest, uniqueName } from '../support/oci.js';
import { deleteRedisPrefix, redisKeys, redisTestPrefix, redisTestUrl, skipUnlessRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

const skip = (await skipUnlessPostgres()).skip ?? (await skipUnlessRedis()).skip;

describe('pull limits shared by replicas through Redis', { skip }, () => {
  const prefix = redisTestPrefix();
  let a: TestServer;
  let b: TestServer;
  let repo: string;

  before(async () => {
    const shared = { 'redis.url': redisTestUrl(), 'redis.prefix': prefix, trustProxy: '127.0.0.1' };
    a = await startTestServer(shared, { backend: 'postgres' });
    b = await startTestServer(shared, { sharing: a });
    await a.hub.settings.set('anonymousPullLimit', 3);
    await a.hub.settings.set('anonymousPullWindowSeconds', 3600);
    repo = `test/${uniqueName('shared')}`;
    await pushImage(a.url, repo, 'latest', { layers: 1, layerBytes: 100 });
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
    await deleteRedisPrefix(redisTestUrl(), prefix);
  });

  const pull = async (server: TestServer, from: string) => {
    const res = await fetch(`${server.url}/v2/${repo}/manifests/latest`, { headers: { accept: ACCEPT_ALL, 'x-forwarded-for': from } });
    await res.arrayBuffer();
    return { status: res.status, remaining: res.headers.get('ratelimit-remaining') };
  };

  it('one allowance per client, whichever replica answers', async () => {
    const from = '203.0.113.50';
    assert.deepEqual(await pull(a, from), { status: 200, remaining: '2;w=3600' });
    assert.deepEqual(await pull(b, from), { status: 200, remaining: '1;w=3600' });
    assert.deepEqual(await pull(a, from), { status: 200, remaining: '0;w=3600' });
    assert.equal((await pull(b, from)).status, 429);
    assert.equal((await pull(a, from)).status, 429);
    assert.ok((await redisKeys(redisTestUrl(), prefix)).includes('count:pulls:address:203.0.113.50'), 'the counter lives in Redis');
  });

  it('a multi-arch pull counts once across replicas, and only for the client that fetched the index', async () => {
    const multi = `test/${uniqueName('multi')}`;
    const amd64 = makeImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: 1, layerBytes: 100 });
    const arm64 = makeImage({ platform: { architecture: 'arm64', os: 'linux' }, layers: 1, layerBytes: 100 });
    await pushImage(a.url, multi, amd64.digest, { image: amd64 });
    await pushImage(a.url, multi, arm64.digest, { image: arm64 });
    await pushManifest(a.url, multi, 'latest', makeIndex([{ image: amd64, architecture: 'amd64' }, { image: arm64, architecture: 'arm64' }]).body, OCI_INDEX);
    const get = async (server: TestServer, reference: string, from: string) => {
      const res = await fetch(`${server.url}/v2/${multi}/manifests/${reference}`, { headers: { accept: ACCEPT_ALL, 'x-forwarded-for': from } });
      await res.arrayBuffer();
      return res.headers.get('ratelimit-remaining');
    };
    assert.equal(await get(a, 'latest', '203.0.113.60'), '2;w=3600');
    assert.equal(await get(b, amd64.digest, '203.0.113.60'), '2;w=3600', 'the other replica knows this client fetched the index');
    assert.equal(await get(b, arm64.digest, '203.0.113.61'), '2;w=3600', 'another client pays for the platform manifest');
    assert.equal(await get(a, amd64.digest, '203.0.113.61'), '1;w=3600');
  });

  it('pull counts written by both replicas add up', async () => {
    await a.hub.pullStats.flush();
    await b.hub.pullStats.flush();
    const before = await a.hub.pullStats.get(repo);
    assert.equal(before.pulls, 3, 'the three pulls served (refusals are no pulls)');
    await pull(a, '203.0.113.51');
    await pull(b, '203.0.113.51');
    await pull(b, '203.0.113.52');
    await Promise.all([a.hub.pullStats.flush(), b.hub.pullStats.flush()]);
    assert.equal((await b.hub.pullStats.get(repo)).pulls, 6);
    assert.equal((await a.hub.pullStats.tags(repo)).get('latest')?.pulls, 6);
  });
});
