// Anonymous pull rate limits over HTTP: the RateLimit headers of every manifest GET (and HEAD, which
// is free), 429 TOOMANYREQUESTS with Retry-After and a message that says how to raise the limit,
// a multi-arch pull counted once, IPv6 clients counted per /64, exempt addresses. Client addresses
// come from X-Forwarded-For, sent by a trusted proxy (the test itself, on 127.0.0.1). On SQLite
// and on PostgreSQL (settings and the index are read per pull).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClock } from '../support/auth.js';
import { ACCEPT_ALL, DOCKER_MANIFEST, makeImage, makeIndex, OCI_INDEX, pushImage } from '../support/images.js';
import { pushManifest, uniqueName } from '../support/oci.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

for (const { backend, options } of await testBackends()) {
  describe(`anonymous pull limits (${backend})`, options, () => {
    const clock = new TestClock();
    let server: TestServer;
    let repo: string;

    before(async () => {
      server = await startTestServer({ trustProxy: '127.0.0.1' }, { clock, backend });
      await server.hub.settings.set('anonymousPullLimit', 3);
      await server.hub.settings.set('anonymousPullWindowSeconds', 3600);
      repo = `test/${uniqueName('limits')}`;
      await pushImage(server.url, repo, 'latest', { layers: 1, layerBytes: 100 });
    });

    after(async () => {
      await server?.stop();
    });

    const pull = async (reference: string, from?: string, method = 'GET', repository = repo) => {
      const res = await fetch(`${server.url}/v2/${repository}/manifests/${reference}`, {
        method,
        headers: { accept: ACCEPT_ALL, ...(from ? { 'x-forwarded-for': from } : {}) },
      });
      const text = await res.text();
      return {
        status: res.status,
        limit: res.headers.get('ratelimit-limit'),
        remaining: res.headers.get('ratelimit-remaining'),
        retryAfter: res.headers.get('retry-after'),
        text,
      };
    };

    it('every manifest GET answers RateLimit-Limit and RateLimit-Remaining; a HEAD answers them without counting', async () => {
      const from = '203.0.113.10';
      const first = await pull('latest', from);
      assert.equal(first.status, 200);
      assert.equal(first.limit, '3;w=3600');
      assert.equal(first.remaining, '2;w=3600');
      const head = await pull('latest', from, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.remaining, '2;w=3600', 'HEAD is free');
      assert.equal((await pull('latest', from)).remaining, '1;w=3600');
    });

    it('over the limit: 429 TOOMANYREQUESTS with Retry-After and a message that says to log in; the next window allows again', async () => {
      const from = '203.0.113.11';
      for (let i = 2; i >= 0; i--) assert.equal((await pull('latest', from)).remaining, `${i};w=3600`);
      const refused = await pull('latest', from);
      assert.equal(refused.status, 429);
      assert.equal(refused.retryAfter, '3600');
      assert.equal(refused.limit, '3;w=3600');
      assert.equal(refused.remaining, '0;w=3600');
      const error = (JSON.parse(refused.text) as { errors: Array<{ code: string; message: string }> }).errors[0]!;
      assert.equal(error.code, 'TOOMANYREQUESTS');
      assert.match(error.message, /3 pulls per 1 hour per address/);
      assert.match(error.message, /docker login/);
      const head = await pull('latest', from, 'HEAD');
      assert.equal(head.status, 200, 'a HEAD is never refused');
      assert.equal(head.remaining, '0;w=3600');
      clock.advance(1800_000);
      assert.equal((await pull('latest', from)).retryAfter, '1800');
      clock.advance(1800_000);
      const again = await pull('latest', from);
      assert.equal(again.status, 200);
      assert.equal(again.remaining, '2;w=3600');
    });

    it('a multi-arch pull counts once: the index counts, the platform manifest it lists does not; an image by digest counts', async () => {
      const multi = `test/${uniqueName('multi')}`;
      const amd64 = makeImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: 1, layerBytes: 100 });
      const arm64 = makeImage({ platform: { architecture: 'arm64', os: 'linux' }, layers: 1, layerBytes: 100 });
      await pushImage(server.url, multi, amd64.digest, { image: amd64 });
      await pushImage(server.url, multi, arm64.digest, { image: arm64 });
      const index = makeIndex([
        { image: amd64, architecture: 'amd64' },
        { image: arm64, architecture: 'arm64' },
      ]);
      await pushManifest(server.url, multi, 'latest', index.body, OCI_INDEX);
      const single = makeImage({ layers: 1, layerBytes: 100 });
      await pushImage(server.url, multi, single.digest, { image: single });

      const from = '203.0.113.12';
      assert.equal((await pull('latest', from, 'GET', multi)).remaining, '2;w=3600', 'the index');
      const child = await pull(amd64.digest, from, 'GET', multi);
      assert.equal(child.status, 200);
      assert.equal(child.remaining, '2;w=3600', 'the platform manifest of the same pull');
      assert.equal((await pull(index.digest, from, 'GET', multi)).remaining, '1;w=3600', 'the index by digest is a pull');
      assert.equal((await pull(single.digest, from, 'GET', multi)).remaining, '0;w=3600', 'an image no index lists is a pull');
      assert.equal((await pull(arm64.digest, from, 'GET', multi)).status, 200, 'platform manifests stay free at the limit');
      assert.equal((await pull('latest', from, 'GET', multi)).status, 429);

      // free only for the client that fetched the index: a published index makes nothing free for others
      const other = '203.0.113.14';
      assert.equal((await pull(amd64.digest, other, 'GET', multi)).remaining, '2;w=3600', 'another client pulling the platform manifest by digest pays');
      assert.equal((await pull(arm64.digest, other, 'GET', multi)).remaining, '1;w=3600');
      assert.equal((await pull('latest', other, 'GET', multi)).remaining, '0;w=3600');
      assert.equal((await pull(amd64.digest, other, 'GET', multi)).status, 200, 'now it fetched the index');
      // and only within the window
      clock.advance(3600_000);
      assert.equal((await pull(amd64.digest, other, 'GET', multi)).remaining, '2;w=3600', 'a new window: the index must be fetched again');
    });

    it('IPv6 clients are counted per /64', async () => {
      assert.equal((await pull('latest', '2001:db8:1:2::1')).remaining, '2;w=3600');
      assert.equal((await pull('latest', '2001:db8:1:2:ffff:ffff:ffff:fffe')).remaining, '1;w=3600');
      assert.equal((await pull('latest', '2001:0db8:0001:0002:0:0:0:abcd')).remaining, '0;w=3600');
      assert.equal((await pull('latest', '2001:db8:1:2::9')).status, 429);
      assert.equal((await pull('latest', '2001:db8:1:3::1')).remaining, '2;w=3600', 'the next /64 is someone else');
      assert.equal((await pull('latest', '::ffff:203.0.113.13')).remaining, '2;w=3600');
      assert.equal((await pull('latest', '203.0.113.13')).remaining, '1;w=3600', 'an IPv4-mapped address is the IPv4 address');
    });

    it('exempt addresses (loopback by default, and what an administrator adds) are never limited', async () => {
      for (let i = 0; i < 5; i++) {
        const local = await pull('latest');
        assert.equal(local.status, 200);
        assert.equal(local.limit, null, 'loopback is exempt: no limit, no header');
      }
      await server.hub.settings.set('pullLimitExempt', ['127.0.0.0/8', '::1', '198.51.100.0/24', '2001:db8:ff::/48']);
      try {
        for (let i = 0; i < 5; i++) {
          const exempt = await pull('latest', '198.51.100.7');
          assert.equal(exempt.status, 200);
          assert.equal(exempt.limit, null);
          assert.equal((await pull('latest', '2001:db8:ff:1::5')).status, 200);
        }
        assert.equal((await pull('latest', '198.51.101.7')).remaining, '2;w=3600', 'outside the exempt network');
      } finally {
        await server.hub.settings.set('pullLimitExempt', ['127.0.0.0/8', '::1']);
      }
    });

    it('an unlimited anonymous allowance (null) answers no RateLimit headers', async () => {
      await server.hub.settings.set('anonymousPullLimit', null);
      try {
        for (let i = 0; i < 5; i++) {
          const res = await pull('latest', '203.0.113.14');
          assert.equal(res.status, 200);
          assert.equal(res.limit, null);
        }
      } finally {
        await server.hub.settings.set('anonymousPullLimit', 3);
      }
    });

    it('a client that only asks for a Docker manifest gets the platform manifest of the index by tag, counted once', async () => {
      const multi = `test/${uniqueName('legacy')}`;
      const image = makeImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: 1, layerBytes: 100 });
      await pushImage(server.url, multi, image.digest, { image });
      await pushManifest(server.url, multi, 'latest', makeIndex([{ image, architecture: 'amd64' }]).body, OCI_INDEX);
      const res = await fetch(`${server.url}/v2/${multi}/manifests/latest`, {
        headers: { accept: `application/vnd.oci.image.manifest.v1+json, ${DOCKER_MANIFEST}`, 'x-forwarded-for': '203.0.113.15' },
      });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
      assert.equal(res.headers.get('ratelimit-remaining'), '2;w=3600');
    });
  });
}

describe('pull limits without a trusted proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.hub.settings.set('anonymousPullLimit', 1);
    await server.hub.settings.set('pullLimitExempt', []);
  });
  after(() => server?.stop());

  it('ignore X-Forwarded-For: every request is the socket address, whatever the header says', async () => {
    const repo = `test/${uniqueName('proxy')}`;
    await pushImage(server.url, repo, 'latest', { layers: 1, layerBytes: 100 });
    const pull = (from: string) => fetch(`${server.url}/v2/${repo}/manifests/latest`, { headers: { accept: ACCEPT_ALL, 'x-forwarded-for': from } });
    const first = await pull('198.51.100.1');
    await first.arrayBuffer();
    assert.equal(first.status, 200);
    const second = await pull('198.51.100.2');
    await second.arrayBuffer();
    assert.equal(second.status, 429, 'both came from 127.0.0.1');
  });
});
