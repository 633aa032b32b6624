// Pull counts per repository and per tag: recorded from the pulls the registry reports, written
// in batches (flush), shown by the repository API. A multi-arch pull counts once; HEAD is no pull.
// On SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClock } from '../support/auth.js';
import { ACCEPT_ALL, makeImage, makeIndex, OCI_INDEX, pushImage } from '../support/images.js';
import { pushManifest, uniqueName } from '../support/oci.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

for (const { backend, options } of await testBackends()) {
  describe(`pull statistics (${backend})`, options, () => {
    const clock = new TestClock();
    let server: TestServer;

    before(async () => {
      server = await startTestServer({}, { clock, backend });
    });

    after(async () => {
      await server?.stop();
    });

    const pull = async (repo: string, reference: string, method = 'GET') => {
      const res = await fetch(`${server.url}/v2/${repo}/manifests/${reference}`, { method, headers: { accept: ACCEPT_ALL } });
      await res.arrayBuffer();
      assert.equal(res.status, 200, `${method} ${repo}:${reference}`);
    };
    const shown = async (repo: string) => {
      const res = await fetch(`${server.url}/api/v1/repositories/${repo}`);
      assert.equal(res.status, 200);
      return (await res.json()) as { pull_count: number; last_pulled: string | null };
    };

    it('counts pulls per repository and per tag, once flushed, and shows them in the repository API', async () => {
      const repo = `test/${uniqueName('stats')}`;
      const v1 = makeImage({ layers: 1, layerBytes: 100 });
      const v2 = makeImage({ layers: 1, layerBytes: 100 });
      await pushImage(server.url, repo, 'v1', { image: v1 });
      await pushImage(server.url, repo, 'v2', { image: v2 });
      const fresh = await shown(repo);
      assert.equal(fresh.pull_count, 0);
      assert.equal(fresh.last_pulled, null);

      const firstPull = clock.now();
      await pull(repo, 'v1');
      await pull(repo, 'v1');
      await pull(repo, 'v1', 'HEAD');
      clock.advance(5_000);
      await pull(repo, 'v2');
      await pull(repo, v1.digest);
      await server.hub.pullStats.flush();

      assert.deepEqual(await server.hub.pullStats.get(repo), { pulls: 4, lastPulledAt: firstPull + 5_000 });
      const tags = await server.hub.pullStats.tags(repo);
      // docker resolves a tag with HEAD and GETs the manifest by digest: a pull by digest counts for the tags naming it
      assert.deepEqual(tags.get('v1'), { pulls: 3, lastPulledAt: firstPull + 5_000 });
      assert.deepEqual(tags.get('v2'), { pulls: 1, lastPulledAt: firstPull + 5_000 });
      assert.equal(tags.size, 2);
      const json = await shown(repo);
      assert.equal(json.pull_count, 4);
      assert.equal(json.last_pulled, new Date(firstPull + 5_000).toISOString());

      clock.advance(1_000);
      await pull(repo, 'v1');
      await server.hub.pullStats.flush();
      assert.deepEqual(await server.hub.pullStats.get(repo), { pulls: 5, lastPulledAt: firstPull + 6_000 }, 'flushes add up');
      assert.deepEqual((await server.hub.pullStats.tags(repo)).get('v1'), { pulls: 4, lastPulledAt: firstPull + 6_000 });
    });

    it('a multi-arch pull (the index, then one platform manifest) counts once', async () => {
      const repo = `test/${uniqueName('multi')}`;
      const amd64 = makeImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: 1, layerBytes: 100 });
      const arm64 = makeImage({ platform: { architecture: 'arm64', os: 'linux' }, layers: 1, layerBytes: 100 });
      await pushImage(server.url, repo, amd64.digest, { image: amd64 });
      await pushImage(server.url, repo, arm64.digest, { image: arm64 });
      await pushManifest(server.url, repo, 'latest', makeIndex([{ image: amd64, architecture: 'amd64' }, { image: arm64, architecture: 'arm64' }]).body, OCI_INDEX);
      await pull(repo, 'latest');
      await pull(repo, arm64.digest);
      await server.hub.pullStats.flush();
      assert.equal((await server.hub.pullStats.get(repo)).pulls, 1);
      assert.equal((await server.hub.pullStats.tags(repo)).get('latest')?.pulls, 1);
    });

    it('counts still in memory are written when the server closes', async () => {
      const first = await startTestServer({}, { clock, backend });
      try {
        const repo = `test/${uniqueName('closing')}`;
        await pushImage(first.url, repo, 'latest', { layers: 1, layerBytes: 100 });
        const res = await fetch(`${first.url}/v2/${repo}/manifests/latest`, { headers: { accept: ACCEPT_ALL } });
        await res.arrayBuffer();
        await first.close();
        const second = await startTestServer({}, { clock, sharing: first });
        try {
          assert.equal((await second.hub.pullStats.get(repo)).pulls, 1);
        } finally {
          await second.stop();
        }
      } finally {
        await first.stop();
      }
    });
  });
}
