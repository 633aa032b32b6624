import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createReadiness, shortReason } from '../../src/server/readiness.js';
import { skipUnlessRedisServer, startPrivateRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface ReadyBody {
  status: string;
  checks: Record<string, string>;
  failures?: Record<string, string>;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function readyz(server: TestServer): Promise<{ status: number; body: ReadyBody; cacheControl: string | null }> {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadyBody, cacheControl: res.headers.get('cache-control') };
}

const redisOptions = await skipUnlessRedisServer();

describe('GET /readyz', () => {
  describe('with Redis', redisOptions, () => {
    let redis: PrivateRedis;
    let server: TestServer;
    before(async () => {
      redis = await startPrivateRedis();
      server = await startTestServer({ 'redis.url': redis.url, 'redis.prefix': 'readyz:' });
    });
    after(async () => {
      await server?.stop();
      await redis?.stop();
    });

    it('checks Redis too, and stays ready, degraded, while it is gone (Pier works without it)', async () => {
      assert.deepEqual((await readyz(server)).body, { status: 'ready', checks: { database: 'ok', storage: 'ok', redis: 'ok' } });
      await redis.kill();
      const down = await readyz(server);
      assert.equal(down.status, 200, 'a Redis outage must not take every replica out of the load balancer');
      assert.deepEqual(down.body, { status: 'ready', checks: { database: 'ok', storage: 'ok', redis: 'degraded' } });
      await redis.start();
      let ready = await readyz(server);
      for (let i = 0; i < 100 && ready.body.checks.redis !== 'ok'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50)); // the reconnect backoff is real time
        ready = await readyz(server);
      }
      assert.equal(ready.body.checks.redis, 'ok', 'ok again once Redis is back');
    });
  });

  describe('a healthy server', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(() => server.stop());

    it('is ready when the database and the storage answer', async () => {
      const { status, body, cacheControl } = await readyz(server);
      assert.equal(status, 200);
      assert.deepEqual(body, { status: 'ready', checks: { database: 'ok', storage: 'ok' } });
      assert.equal(cacheControl, 'no-store');
    });
  });

  describe('storage gone', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(() => server.stop());

    it('is 503 naming storage when the storage directory is a file, and ready again once it is back', async () => {
      const root = join(server.dataDir, 'storage');
      await rm(root, { recursive: true, force: true });
      await writeFile(root, 'not a directory');
      const { status, body } = await readyz(server);
      assert.equal(status, 503);
      assert.equal(body.status, 'unavailable');
      assert.deepEqual(body, { status: 'unavailable', checks: { database: 'ok', storage: 'failed' } }, 'names and states only: no paths');

      const live = await fetch(`${server.url}/healthz`);
      assert.equal(live.status, 200, '/healthz is liveness: it does not look at the backends');

      await rm(root, { force: true });
      assert.equal((await readyz(server)).status, 200);
    });
  });

  describe('database closed', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(() => server.stop());

    it('is 503 naming the database', async () => {
      await server.database.close();
      const { status, body } = await readyz(server);
      assert.equal(status, 503);
      assert.deepEqual(body.checks, { database: 'failed', storage: 'ok' });
      assert.equal(body.failures, undefined, 'the reason goes to the log only');
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    });
  });
});

describe('readiness checks', () => {
  it('fails a check that does not answer in time, naming it, while the others pass', async () => {
    const readiness = createReadiness(
      [
        { name: 'database', check: async () => {} },
        { name: 'redis', check: () => new Promise<void>(() => {}) },
      ],
      { timeoutMs: 20 },
    );
    assert.deepEqual(await readiness(), { ready: false, checks: { database: 'ok', redis: 'failed' }, failures: { redis: 'no answer within 20 ms' } });
  });

  it('shares one probe between concurrent callers, and probes again afterwards', async () => {
    let calls = 0;
    let gate = deferred();
    const readiness = createReadiness([
      {
        name: 'slow',
        check: () => {
          calls += 1;
          return gate.promise;
        },
      },
    ]);
    const first = readiness();
    const second = readiness();
    assert.equal(first, second);
    gate.resolve();
    assert.equal((await first).ready, true);
    assert.equal(calls, 1);
    gate = deferred();
    const third = readiness();
    assert.notEqual(third, first);
    gate.resolve();
    await third;
    assert.equal(calls, 2);
  });

  it('reports an optional backend that fails as degraded and stays ready', async () => {
    const readiness = createReadiness([
      { name: 'database', check: async () => {} },
      { name: 'redis', check: async () => Promise.reject(new Error('connect ECONNREFUSED')), optional: true },
    ]);
    assert.deepEqual(await readiness(), { ready: true, checks: { database: 'ok', redis: 'degraded' }, failures: { redis: 'connect ECONNREFUSED' } });
  });

  it('counts a check that throws synchronously as failed', async () => {
    const readiness = createReadiness([
      {
        name: 'broken',
        check: () => {
          throw new Error('boom');
        },
      },
    ]);
    assert.deepEqual(await readiness(), { ready: false, checks: { broken: 'failed' }, failures: { broken: 'boom' } });
  });

  it('gives short reasons without credentials', () => {
    assert.equal(shortReason(new Error('cannot reach postgres://pier:hunter2@db:5432/pier\nstack…')), 'cannot reach postgres://db:5432/pier');
    assert.equal(shortReason(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6379'), { code: 'ECONNREFUSED' })), 'connect ECONNREFUSED 10.0.0.1:6379');
    assert.equal(shortReason(Object.assign(new Error('refused'), { code: '57P01' })), '57P01: refused');
    assert.equal(shortReason(new Error('x'.repeat(500))).length, 200);
    assert.equal(shortReason(new Error('no answer from redis://cache:6379/0?password=sw0rdfish&db=1')), 'no answer from redis://cache:6379/0?password=***&db=1');
  });
});
