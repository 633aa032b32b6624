// A tag's pulls as the hub shows them (last_pulled, pull_count on /api/v1's tags), after the real
// docker CLI pulls it by tag. Docker resolves a tag with a HEAD (free) and then GETs the manifest
// by digest: the pull that counts names a digest, and it is a pull of every tag naming it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, testBackends, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

interface Tag {
  name: string;
  last_pulled: string | null;
  pull_count: number;
}

for (const { backend, options } of await testBackends()) {
  describe(`a tag's pulls after docker pull (${backend})`, { ...options, ...skipUnless(daemon), timeout: 10 * 60_000 }, () => {
    let server: TestServer;
    let docker: DockerClient;
    let registry: string;
    let refs: string[] = [];

    before(async () => {
      server = await startTestServer({}, { backend });
      registry = new URL(server.url).host;
      docker = await DockerClient.create(requireTool(daemon));
    });
    after(async () => {
      await docker?.cleanup(refs);
      await server?.stop();
    });

    async function tags(): Promise<Map<string, Tag>> {
      await server.hub.pullStats.flush();
      const res = await fetch(`${server.url}/api/v1/repositories/alice/pulled/tags`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { results: Tag[] };
      return new Map(body.results.map((t) => [t.name, t]));
    }

    it('records the tag docker pulled (and its other names), not only the repository', async () => {
      const one = `${registry}/alice/pulled:1.0`;
      const latest = `${registry}/alice/pulled:latest`;
      const other = `${registry}/alice/pulled:old`;
      refs = [one, latest, other];
      await docker.buildImage({ 'a.bin': randomBytes(20_000), 'b.bin': randomBytes(20_000) }, other);
      await docker.ok(['push', other]);
      await docker.buildImage({ 'a.bin': randomBytes(20_000) }, one);
      await docker.ok(['push', one]);
      await docker.ok(['tag', one, latest]);
      await docker.ok(['push', latest]);
      let now = await tags();
      assert.equal(now.get('1.0')?.last_pulled, null, 'a push is not a pull');
      assert.equal(now.get('1.0')?.pull_count, 0);

      await docker.ok(['rmi', one, latest]);
      const started = Date.now();
      await docker.ok(['pull', one]);
      now = await tags();
      const pulled = now.get('1.0')!;
      assert.equal(pulled.pull_count, 1, 'one pull of 1.0');
      assert.ok(pulled.last_pulled !== null && Date.parse(pulled.last_pulled) >= started - 1000, `1.0 last pulled: ${pulled.last_pulled}`);
      // latest names the same manifest: pulling 1.0 pulled it too
      assert.deepEqual([now.get('latest')?.pull_count, now.get('latest')?.last_pulled], [1, pulled.last_pulled]);
      assert.equal(now.get('old')?.last_pulled, null, 'another image\'s tag was not pulled');
      assert.equal(now.get('old')?.pull_count, 0);

      // docker pull of an image it already has only asks (HEAD): no pull, as on Docker Hub
      await docker.ok(['pull', one]);
      assert.equal((await tags()).get('1.0')?.pull_count, 1, 'an up-to-date pull is free');
    });
  });
}
