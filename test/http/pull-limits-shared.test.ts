// Two replicas (in-process servers) over one PostgreSQL schema, one storage directory and one Redis
// prefix: a client's pulls count against one allowance whichever replica answers, and pull counts
// written by both add up.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipUnlessPostgres } from '../../src/metadata/postgres.testing.js';
import { ACCEPT_ALL, pushImage } from '../support/images.js';
import { uniqueName } from '../support/oci.js';
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
