/**
 * The pull-through cache against the reference registry as its upstream (through a proxy that
 * counts what reached it and can stop like a crashed upstream): misses fetched once, whoever asks;
 * blobs streamed while stored; tags re-checked with HEAD after the TTL; cached content served when
 * the upstream is down; a fetch cut in the middle leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Clock } from '../../src/registry/ports.js';
import { CountingProxy } from '../support/counting-proxy.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { ACCEPT_ALL, makeImage, makeIndex, type TestImage } from '../support/images.js';
import { pushImageTo as pushImage } from '../support/registry-push.js';
import { assertOciError, pushManifest, sha256, uniqueName } from '../support/oci.js';
import { findReferenceRegistry, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

const reference = await findReferenceRegistry();

async function get(url: string, accept = ACCEPT_ALL): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, { headers: { accept } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** A GET whose body may end early: the bytes received and whether the response completed. */
function rawGet(url: string): Promise<{ status: number; received: Buffer; complete: boolean; length?: number }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const done = (complete: boolean) => {
        if (settled) return;
        settled = true;
        const length = res.headers['content-length'];
        resolve({ status: res.statusCode ?? 0, received: Buffer.concat(chunks), complete, ...(length ? { length: Number(length) } : {}) });
      };
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(res.complete));
      res.on('error', () => done(false));
      res.on('close', () => done(res.complete));
    });
    req.on('error', () => resolve({ status: 0, received: Buffer.alloc(0), complete: false }));
    req.end();
  });
}

for (const { backend, options } of await testBackends()) {
  describe(`pull-through cache of the reference registry (${backend})`, { ...options, ...skipUnless(reference) }, () => {
    let upstream: ReferenceRegistry;
    let counting: CountingProxy;
    let server: TestServer;
    let offset = 0;
    const logs: string[] = [];
    const clock: Clock = { now: () => Date.now() + offset };

    before(async () => {
      upstream = await startReferenceRegistry(requireTool(reference));
      counting = await CountingProxy.start(upstream.url);
      const logger = pino(
        { level: 'info' },
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            logs.push(chunk.toString());
            callback();
          },
        }),
      );
      server = await startTestServer({}, { backend, clock, logger });
      await server.hub.proxies.add('hub', { url: counting.url, ttlMs: 60_000 });
    });

    after(async () => {
      await server?.stop();
      await counting?.close();
      await upstream?.stop();
    });

    /** The spool files of fetches go with them. */
    const spoolEmpty = async () => {
      for (let i = 0; ; i++) {
        const left = await readdir(join(server.dataDir, 'proxy-spool')).catch(() => []);
        if (left.length === 0) return;
        if (i > 50) assert.deepEqual(left, [], 'spool files left behind');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    it('fetches a missing image once, serves it byte for byte, and from storage afterwards', async () => {
      const name = `library/${uniqueName('app')}`;
      const image = await pushImage(upstream.url, name, 'v1', { layers: 2, layerBytes: 300_000 });
      counting.reset();

      const manifest = await get(`${server.url}/v2/hub/${name}/manifests/v1`);
      assert.equal(manifest.status, 200);
      assert.deepEqual(manifest.body, image.manifest);
      assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
      assert.equal(manifest.headers.get('content-type'), image.mediaType);
      for (const blob of [image.config, ...image.layers]) {
        const fetched = await get(`${server.url}/v2/hub/${name}/blobs/${blob.digest}`);
        assert.equal(fetched.status, 200);
        assert.equal(sha256(fetched.body), blob.digest);
        assert.equal(fetched.headers.get('docker-content-digest'), blob.digest);
      }
      assert.equal(counting.count('GET', /\/manifests\/v1$/), 1);
      assert.equal(counting.count('GET', /\/blobs\//), 3);

      // again: nothing reaches the upstream (the tag is fresh, the blobs are stored)
      counting.reset();
      assert.deepEqual((await get(`${server.url}/v2/hub/${name}/manifests/v1`)).body, image.manifest);
      assert.deepEqual((await get(`${server.url}/v2/hub/${name}/manifests/${image.digest}`)).body, image.manifest);
      for (const blob of [image.config, ...image.layers]) {
        const fetched = await get(`${server.url}/v2/hub/${name}/blobs/${blob.digest}`);
        assert.equal(sha256(fetched.body), blob.digest);
        const head = await fetch(`${server.url}/v2/hub/${name}/blobs/${blob.digest}`, { method: 'HEAD' });
        assert.equal(head.headers.get('content-length'), String(blob.size));
      }
      assert.deepEqual(counting.requests, []);
      // the cached repository is in the catalog like any other
      const catalog = (await (await fetch(`${server.url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.ok(catalog.repositories.includes(`hub/${name}`));
    });

    it('fetches each blob of an uncached image once for concurrent pulls, streaming it to all of them', async () => {
      const name = `library/${uniqueName('busy')}`;
      const image = await pushImage(upstream.url, name, 'latest', { layers: 3, layerBytes: 2_000_000 });
      counting.reset();
      const pull = async () => {
        const manifest = await get(`${server.url}/v2/hub/${name}/manifests/latest`);
        assert.deepEqual(manifest.body, image.manifest);
        for (const blob of [image.config, ...image.layers]) {
          const fetched = await get(`${server.url}/v2/hub/${name}/blobs/${blob.digest}`);
          assert.equal(fetched.status, 200);
          assert.equal(sha256(fetched.body), blob.digest);
        }
      };
      await Promise.all(Array.from({ length: 6 }, pull));
      assert.equal(counting.count('GET', /\/manifests\//), 1, JSON.stringify(counting.requests));
      for (const blob of [image.config, ...image.layers]) {
        assert.equal(counting.count('GET', new RegExp(`/blobs/${blob.digest}$`)), 1, `${blob.digest} fetched once`);
      }
      await spoolEmpty();
    });

    it('answers a HEAD of a blob not cached yet with its size, without fetching it', async () => {
      const name = `library/${uniqueName('head')}`;
      const image = await pushImage(upstream.url, name, 'v1', { layerBytes: 100_000 });
      await get(`${server.url}/v2/hub/${name}/manifests/v1`);
      counting.reset();
      const layer = image.layers[0]!;
      const head = await fetch(`${server.url}/v2/hub/${name}/blobs/${layer.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(layer.size));
      assert.equal(counting.count('GET', /\/blobs\//), 0);
      assert.equal(counting.count('HEAD', /\/blobs\//), 1);
    });

    it('fetches only blobs that a cached manifest names', async () => {
      const name = `library/${uniqueName('refs')}`;
      const image = await pushImage(upstream.url, name, 'v1');
      const stray = await pushImage(upstream.url, name, 'v2');
      await get(`${server.url}/v2/hub/${name}/manifests/v1`);
      counting.reset();
      const res = await fetch(`${server.url}/v2/hub/${name}/blobs/${stray.layers[0]!.digest}`);
      await assertOciError(res, 404, 'BLOB_UNKNOWN');
      assert.deepEqual(counting.requests, []);
      assert.equal((await get(`${server.url}/v2/hub/${name}/blobs/${image.layers[0]!.digest}`)).status, 200);
    });

    it('re-checks a tag with HEAD once its TTL passed, and follows it when it moved', async () => {
      const name = `library/${uniqueName('ttl')}`;
      const first = await pushImage(upstream.url, name, 'stable');
      await get(`${server.url}/v2/hub/${name}/manifests/stable`);
      counting.reset();
      await get(`${server.url}/v2/hub/${name}/manifests/stable`);
      assert.deepEqual(counting.requests, [], 'fresh: not asked');

      offset += 61_000;
      const same = await get(`${server.url}/v2/hub/${name}/manifests/stable`);
      assert.deepEqual(same.body, first.manifest);
      assert.equal(counting.count('HEAD', /\/manifests\/stable$/), 1);
      assert.equal(counting.count('GET', /\/manifests\//), 0, 'the HEAD confirmed it: no GET spent');

      const second = await pushImage(upstream.url, name, 'stable');
      counting.reset();
      offset += 61_000;
      const moved = await get(`${server.url}/v2/hub/${name}/manifests/stable`);
      assert.deepEqual(moved.body, second.manifest);
      assert.equal(counting.count('HEAD', /\/manifests\/stable$/), 1);
      assert.equal(counting.count('GET', new RegExp(`/manifests/${second.digest}$`)), 1);
      // the old manifest stays pullable by digest
      assert.deepEqual((await get(`${server.url}/v2/hub/${name}/manifests/${first.digest}`)).body, first.manifest);
      assert.deepEqual(((await (await fetch(`${server.url}/v2/hub/${name}/tags/list`)).json()) as { tags: string[] }).tags, ['stable']);
    });

    it('serves a multi-arch index and its platforms, and a client that cannot read indexes gets linux/amd64', async () => {
      const name = `library/${uniqueName('multi')}`;
      const amd = makeImage({ platform: { architecture: 'amd64', os: 'linux' } });
      const arm = makeImage({ platform: { architecture: 'arm64', os: 'linux' } });
      await pushImage(upstream.url, name, amd.digest, { image: amd });
      await pushImage(upstream.url, name, arm.digest, { image: arm });
      const index = makeIndex([
        { image: amd, architecture: 'amd64' },
        { image: arm, architecture: 'arm64' },
      ]);
      await pushManifest(upstream.url, name, 'multi', index.body, 'application/vnd.oci.image.index.v1+json');

      const fetched = await get(`${server.url}/v2/hub/${name}/manifests/multi`);
      assert.deepEqual(fetched.body, index.body);
      assert.deepEqual((await get(`${server.url}/v2/hub/${name}/manifests/${arm.digest}`)).body, arm.manifest);
      const old = await get(`${server.url}/v2/hub/${name}/manifests/multi`, 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(old.body, amd.manifest);
    });

    it('serves cached content while the upstream is down, says so in the log, and refuses what it does not have', async () => {
      const name = `library/${uniqueName('down')}`;
      const image = await pushImage(upstream.url, name, 'v1', { layerBytes: 50_000 });
      const uncached = await pushImage(upstream.url, name, 'v2');
      await get(`${server.url}/v2/hub/${name}/manifests/v1`);
      for (const blob of [image.config, ...image.layers]) await get(`${server.url}/v2/hub/${name}/blobs/${blob.digest}`);

      await counting.stop();
      try {
        offset += 61_000;
        logs.length = 0;
        const manifest = await get(`${server.url}/v2/hub/${name}/manifests/v1`);
        assert.equal(manifest.status, 200);
        assert.deepEqual(manifest.body, image.manifest);
        for (const blob of [image.config, ...image.layers]) {
          assert.equal(sha256((await get(`${server.url}/v2/hub/${name}/blobs/${blob.digest}`)).body), blob.digest);
        }
        const stale = logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => /stale/.test(String(l.msg)));
        assert.ok(stale, `a log line says the content may be stale: ${logs.join('')}`);
        assert.equal(stale.repository, `hub/${name}`);
        assert.equal(stale.reference, 'v1');
        assert.match(String(stale.reason), /did not answer|connection refused/);

        const missing = await fetch(`${server.url}/v2/hub/${name}/manifests/v2`, { headers: { accept: ACCEPT_ALL } });
        await assertOciError(missing, 502, 'UNKNOWN', { message: /could not be reached/ });
        const tags = (await (await fetch(`${server.url}/v2/hub/${name}/tags/list`)).json()) as { tags: string[] };
        assert.deepEqual(tags.tags, ['v1'], 'the cached tags, while the upstream is down');
      } finally {
        await counting.resume();
      }
      assert.deepEqual((await get(`${server.url}/v2/hub/${name}/manifests/v2`)).body, uncached.manifest);
    });

    it('a blob whose upstream stops half-way: the client is cut, nothing is stored, and the next pull fetches it whole', async () => {
      const name = `library/${uniqueName('cut')}`;
      const image = await pushImage(upstream.url, name, 'v1', { layerBytes: 3_000_000 });
      const layer = image.layers[0]!;
      await get(`${server.url}/v2/hub/${name}/manifests/v1`);
      const stopped = counting.stopDuring(new RegExp(`/blobs/${layer.digest}$`), 1_000_000);
      const cut = await rawGet(`${server.url}/v2/hub/${name}/blobs/${layer.digest}`);
      await stopped;
      assert.equal(cut.status, 200);
      assert.equal(cut.complete, false, 'the download was cut');
      assert.ok(cut.received.length < layer.size, `received ${cut.received.length} of ${layer.size}`);
      assert.ok(cut.received.length > 0, 'the client had bytes before the upstream stopped (streamed, not buffered)');
      assert.equal(await server.store.stat(layer.digest as never), undefined, 'no partial blob in storage');

      // while the upstream is down, the blob is not there
      await assertOciError(await fetch(`${server.url}/v2/hub/${name}/blobs/${layer.digest}`), 502, 'UNKNOWN');
      await counting.resume();
      const whole = await get(`${server.url}/v2/hub/${name}/blobs/${layer.digest}`);
      assert.equal(whole.status, 200);
      assert.equal(sha256(whole.body), layer.digest);
      assert.equal(await server.store.stat(layer.digest as never), layer.size);
      await spoolEmpty();
    });

    it('forgets a tag the upstream no longer has', async () => {
      const name = `library/${uniqueName('gone')}`;
      const image: TestImage = (await pushImage(upstream.url, name, 'old')) as TestImage;
      await get(`${server.url}/v2/hub/${name}/manifests/old`);
      const res = await fetch(`${upstream.url}/v2/${name}/manifests/${image.digest}`, { method: 'DELETE' });
      assert.equal(res.status, 202);
      offset += 61_000;
      await assertOciError(await fetch(`${server.url}/v2/hub/${name}/manifests/old`, { headers: { accept: ACCEPT_ALL } }), 404, 'MANIFEST_UNKNOWN');
    });

    it('refuses pushes into the proxy namespace, to administrators too', async () => {
      const image = makeImage();
      const res = await fetch(`${server.url}/v2/hub/library/mine/blobs/uploads/`, { method: 'POST' });
      await assertOciError(res, 403, 'DENIED', { message: /pull-through cache of http:\/\/127\.0\.0\.1:\d+: pushes are refused/ });
      const manifest = await fetch(`${server.url}/v2/hub/library/mine/manifests/v1`, {
        method: 'PUT',
        headers: { 'content-type': image.mediaType },
        body: new Uint8Array(image.manifest),
      });
      await assertOciError(manifest, 403, 'DENIED');
    });
  });
}
