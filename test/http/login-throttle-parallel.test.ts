// Parallel wrong passwords cannot outrun the login throttle: each attempt is counted before its
// password is checked, so of many guesses sent at once, on one server or on two sharing Redis,
// only `loginFailures` are checked and the rest are answered 429 at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClock, tokenGet, tokenPost, type Login } from '../support/auth.js';
import { deleteRedisPrefix, redisTestPrefix, redisTestUrl, skipUnlessRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';

const FAILURES = 3;
const GUESSES = 20;
const alice: Login = { username: 'alice', secret: 'alice-password-1' };

/** How many of each status. */
function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** Checked guesses are 401s, refused ones 429s: exactly `FAILURES` checked, nothing else. */
function assertOnlyFailuresChecked(statuses: number[]): void {
  assert.deepEqual(tally(statuses), { 401: FAILURES, 429: GUESSES - FAILURES }, `statuses: ${statuses.join(' ')}`);
}

const wrong = (i: number): Login => ({ username: 'alice', secret: `guess-${i}-of-the-password` });

async function tokenGuess(server: TestServer, i: number, address: string): Promise<number> {
  return (await tokenGet(server.url, { login: wrong(i), headers: { 'x-forwarded-for': address } })).status;
}

/** Basic credentials on the API (GET /api/v1/users/me). */
async function apiGuess(server: TestServer, login: Login, address: string): Promise<{ status: number; retryAfter: string | null }> {
  const res = await fetch(`${server.url}/api/v1/users/me`, {
    headers: { authorization: `Basic ${Buffer.from(`${login.username}:${login.secret}`).toString('base64')}`, 'x-forwarded-for': address },
  });
  await res.arrayBuffer();
  return { status: res.status, retryAfter: res.headers.get('retry-after') };
}

const options = { 'auth.mode': 'token', 'auth.loginFailures': FAILURES, 'auth.loginWindow': '10m', trustProxy: '127.0.0.1' };

const redisOptions = await skipUnlessRedis();

describe('login throttle under parallel guesses', () => {
  describe('one server', () => {
    let server: TestServer;
    const clock = new TestClock();

    before(async () => {
      server = await startTestServer(options, { clock });
      await server.hub.accounts.create({ name: 'alice', password: alice.secret });
    });
    after(() => server.stop());

    it(`/token: of ${GUESSES} wrong passwords sent at once, only loginFailures are checked, the rest are 429`, async () => {
      const statuses = await Promise.all(Array.from({ length: GUESSES }, (_, i) => tokenGuess(server, i, '198.51.100.1')));
      assertOnlyFailuresChecked(statuses);
      // the window is full of failures: even the right password waits for it, from that address only
      const blocked = await tokenGet(server.url, { login: alice, headers: { 'x-forwarded-for': '198.51.100.1' } });
      assert.equal(blocked.status, 429);
      assert.equal(blocked.headers.get('retry-after'), '600');
      assert.equal((await tokenGet(server.url, { login: alice, headers: { 'x-forwarded-for': '198.51.100.2' } })).status, 200);
    });

    it('/token, the password grant of the POST form alike', async () => {
      const statuses = await Promise.all(
        Array.from({ length: GUESSES }, async (_, i) => {
          const res = await tokenPost(server.url, { grant_type: 'password', username: 'alice', password: wrong(i).secret }, { 'x-forwarded-for': '198.51.100.3' });
          return res.status;
        }),
      );
      assertOnlyFailuresChecked(statuses);
    });

    it(`the API's Basic credentials: only loginFailures checked, the rest 429`, async () => {
      const answers = await Promise.all(Array.from({ length: GUESSES }, (_, i) => apiGuess(server, wrong(i), '198.51.100.4')));
      assertOnlyFailuresChecked(answers.map((a) => a.status));
      for (const a of answers.filter((a) => a.status === 429)) assert.ok(Number(a.retryAfter) >= 1, `Retry-After ${a.retryAfter}`);
      assert.equal((await apiGuess(server, alice, '198.51.100.4')).status, 429);
      assert.equal((await apiGuess(server, alice, '198.51.100.5')).status, 200);
    });

    it('/token and the API count against one budget', async () => {
      const statuses = await Promise.all(
        Array.from({ length: GUESSES }, async (_, i) =>
          i % 2 ? tokenGuess(server, i, '198.51.100.6') : (await apiGuess(server, wrong(i), '198.51.100.6')).status,
        ),
      );
      assertOnlyFailuresChecked(statuses);
    });

    it('right passwords sent at once are never refused nor failures: all 200, and the account is free again', async () => {
      const statuses = await Promise.all(
        Array.from({ length: GUESSES }, async () => (await tokenGet(server.url, { login: alice, headers: { 'x-forwarded-for': '198.51.100.7' } })).status),
      );
      // at most loginFailures at a time are checked; the others wait for them, not a 429
      assert.deepEqual(tally(statuses), { 200: GUESSES }, statuses.join(' '));
      for (let i = 0; i < FAILURES; i++) assert.equal(await tokenGuess(server, i, '198.51.100.7'), 401, 'no failure was counted');
      assert.equal(await tokenGuess(server, 99, '198.51.100.7'), 429);
    });

    it('ten GET /token with the right password at once, after failures that leave one attempt: all 200', async () => {
      for (let i = 0; i < FAILURES - 1; i++) assert.equal(await tokenGuess(server, i, '198.51.100.8'), 401);
      const statuses = await Promise.all(
        Array.from({ length: 10 }, async () => (await tokenGet(server.url, { login: alice, headers: { 'x-forwarded-for': '198.51.100.8' } })).status),
      );
      assert.deepEqual(tally(statuses), { 200: 10 }, statuses.join(' '));
      // the successes forgot the failures
      for (let i = 0; i < FAILURES; i++) assert.equal(await tokenGuess(server, i, '198.51.100.8'), 401);
    });
  });

  describe('two servers sharing one Redis prefix', redisOptions, () => {
    let one: TestServer;
    let two: TestServer;
    const prefix = redisTestPrefix();
    const clock = new TestClock();

    before(async () => {
      const shared = { ...options, 'redis.url': redisTestUrl(), 'redis.prefix': prefix };
      one = await startTestServer(shared, { clock });
      two = await startTestServer(shared, { clock });
      // two data directories: the same account on each
      await one.hub.accounts.create({ name: 'alice', password: alice.secret });
      await two.hub.accounts.create({ name: 'alice', password: alice.secret });
    });
    after(async () => {
      await one?.stop();
      await two?.stop();
      await deleteRedisPrefix(redisTestUrl(), prefix);
    });

    it(`/token: of ${GUESSES} wrong passwords at once on both, only loginFailures are checked in all`, async () => {
      const statuses = await Promise.all(Array.from({ length: GUESSES }, (_, i) => tokenGuess(i % 2 ? one : two, i, '203.0.113.1')));
      assertOnlyFailuresChecked(statuses);
      assert.equal((await tokenGet(one.url, { login: alice, headers: { 'x-forwarded-for': '203.0.113.1' } })).status, 429);
      assert.equal((await tokenGet(two.url, { login: alice, headers: { 'x-forwarded-for': '203.0.113.1' } })).status, 429);
      assert.equal((await tokenGet(two.url, { login: alice, headers: { 'x-forwarded-for': '203.0.113.2' } })).status, 200);
    });

    it('ten GET /token with the right password at once, on both: all 200, no failure counted', async () => {
      const statuses = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => (await tokenGet((i % 2 ? one : two).url, { login: alice, headers: { 'x-forwarded-for': '203.0.113.5' } })).status),
      );
      assert.deepEqual(tally(statuses), { 200: 10 }, statuses.join(' '));
      for (let i = 0; i < FAILURES; i++) assert.equal(await tokenGuess(i % 2 ? one : two, i, '203.0.113.5'), 401, 'no failure was counted');
      assert.equal(await tokenGuess(one, 99, '203.0.113.5'), 429);
    });

    it(`the API's Basic credentials on both: only loginFailures are checked in all`, async () => {
      const answers = await Promise.all(Array.from({ length: GUESSES }, (_, i) => apiGuess(i % 2 ? one : two, wrong(i), '203.0.113.3')));
      assertOnlyFailuresChecked(answers.map((a) => a.status));
      assert.equal((await apiGuess(one, alice, '203.0.113.3')).status, 429);
      assert.equal((await apiGuess(two, alice, '203.0.113.4')).status, 200);
    });
  });
});
