// Redis killed under a running Pier (a redis-server of the test's own): logins, pushes and pulls
// keep working, the outage is logged once, and counting goes back to Redis when it returns.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { LogCapture } from '../../src/shared-state/redis-connection.testing.js';
import { bearer, TestClock, tokenFor, tokenGet, type Login } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { MT } from '../support/oci.js';
import { skipUnlessRedisServer, startPrivateRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

const alice: Login = { username: 'alice', secret: 'alice-password-1' };
const UNAVAILABLE = 'Redis is unavailable';
const BACK = 'Redis is available again';

describe('Redis down under a running Pier', await skipUnlessRedisServer(), () => {
  let redis: PrivateRedis;
  let server: TestServer;
  let admin: Redis;
  const logs = new LogCapture();
  const clock = new TestClock();

  before(async () => {
    redis = await startPrivateRedis();
    admin = new Redis(redis.url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
    admin.on('error', () => {});
    server = await startTestServer(
      {
        'auth.mode': 'token',
        'auth.loginFailures': 3,
        'auth.loginWindow': '10m',
        trustProxy: '127.0.0.1',
        'redis.url': redis.url,
        'redis.prefix': 'pier:',
      },
      { clock, logger: logs.logger },
    );
    await server.hub.accounts.create({ name: 'alice', password: alice.secret });
  });
  after(async () => {
    await server?.stop();
    admin?.disconnect();
    await redis?.stop();
  });

  const wrongLogin = (address: string) =>
    tokenGet(server.url, { login: { username: 'alice', secret: 'not-her-password' }, headers: { 'x-forwarded-for': address } });
  const pull = async (token: string, reference: string) => {
    const res = await fetch(`${server.url}/v2/alice/app/manifests/${reference}`, { headers: { ...bearer(token), accept: MT.OciManifest } });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    return res.headers.get('docker-content-digest');
  };
  const keys = async (pattern: string) => (await admin.keys(`pier:${pattern}`)).length;

  it('keeps logins, pushes and pulls working, and counts in Redis again when it is back', async () => {
    // up: failures and the manifest cache in Redis
    assert.equal((await wrongLogin('192.0.2.1')).status, 401);
    assert.equal(await keys('login:*'), 1);
    const token = await tokenFor(server.url, alice, ['repository:alice/app:pull,push']);
    const v1 = await pushImage(server.url, 'alice/app', 'latest', { token });
    assert.equal(await pull(token, 'latest'), v1.digest);
    assert.equal(await keys('mc:m:*'), 1, 'the pulled manifest is cached');

    await redis.kill();
    await logs.waitFor(UNAVAILABLE);

    // down: a login works, a push moves the tag, the pull sees it
    const again = await tokenFor(server.url, alice, ['repository:alice/app:pull,push']);
    const v2 = await pushImage(server.url, 'alice/app', 'latest', { token: again });
    assert.equal(await pull(again, 'latest'), v2.digest);
    assert.equal(await pull(again, v1.digest), v1.digest);
    // failed logins are still throttled, in this process
    for (let i = 0; i < 3; i++) assert.equal((await wrongLogin('192.0.2.2')).status, 401);
    const blocked = await wrongLogin('192.0.2.2');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.headers.get('retry-after'), '600');
    const warnings = logs.find(UNAVAILABLE);
    assert.equal(warnings.length, 1, 'logged once');
    assert.equal(warnings[0]!.level, 40);

    await redis.start();
    await logs.waitFor(BACK);
    // back (empty: the private Redis saves nothing): counting and caching in Redis again
    assert.equal((await wrongLogin('192.0.2.3')).status, 401);
    assert.equal(await keys('login:*'), 1, 'the failure is counted in Redis');
    assert.equal(await pull(again, 'latest'), v2.digest);
    assert.equal(await keys('mc:m:*'), 1, 'and the cache is filled again');
    // what the replica counted while Redis was away still counts here
    assert.equal((await wrongLogin('192.0.2.2')).status, 429);
    clock.advance(10 * 60_000);
    assert.equal((await tokenGet(server.url, { login: alice, headers: { 'x-forwarded-for': '192.0.2.2' } })).status, 200);
    assert.equal(logs.find(UNAVAILABLE).length, 1);
  });
});
