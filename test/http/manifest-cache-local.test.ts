// One replica over SQLite, no Redis: manifests are cached in the process, and what another
// process changes in the same database (a CLI command) still counts at the next request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { RepositoryName } from '../../src/oci/names.js';
import { loadConfig } from '../../src/server/config.js';
import { openCore, type PierCore } from '../../src/server/core.js';
import { MemoryManifestCache } from '../../src/shared-state/memory-manifest-cache.js';
import { MT, uniqueName } from '../support/oci.js';
import { pushImage } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('manifest cache in one process over SQLite', () => {
  let server: TestServer;
  let cli: PierCore;

  before(async () => {
    server = await startTestServer();
    // what `pier` commands open: the same data directory, another SQLite connection
    const config = loadConfig({ env: {}, overrides: { data: server.dataDir, 'storage.fsync': false } });
    cli = await openCore(config, { logger: pino({ level: 'silent' }) });
  });
  after(async () => {
    await cli?.close();
    await server?.stop();
  });

  const get = async (repo: string, reference: string) => {
    const res = await fetch(`${server.url}/v2/${repo}/manifests/${reference}`, { headers: { accept: MT.OciManifest } });
    await res.arrayBuffer();
    return { status: res.status, digest: res.headers.get('docker-content-digest') };
  };

  it('is used in process when Redis is not configured', () => {
    assert.equal(server.shared.backend, 'memory');
    assert.ok(server.shared.manifestCache instanceof MemoryManifestCache, 'an in-process manifest cache');
  });

  it('sees a tag moved by its own requests at once', async () => {
    const repo = `team/${uniqueName('app')}`;
    await pushImage(server.url, repo, 'latest');
    await get(repo, 'latest');
    const cache = server.shared.manifestCache as MemoryManifestCache;
    assert.ok(cache.stats.entries > 0, 'the GET filled the cache');
    const moved = await pushImage(server.url, repo, 'latest');
    assert.equal((await get(repo, 'latest')).digest, moved.digest);
  });

  it('sees what another process changed in the database at the next request', async () => {
    const namespace = uniqueName('gone');
    const repo = `${namespace}/app`;
    const image = await pushImage(server.url, repo, 'latest');
    assert.equal((await get(repo, 'latest')).digest, image.digest);
    assert.equal((await get(repo, 'latest')).digest, image.digest);
    // as `pier user delete` does, from another connection
    await cli.registry.deleteNamespace(namespace);
    assert.equal((await get(repo, 'latest')).status, 404);
    assert.equal((await get(repo, image.digest)).status, 404);

    // and a tag deleted the same way
    const other = `team/${uniqueName('app')}`;
    await pushImage(server.url, other, 'v1');
    assert.equal((await get(other, 'v1')).status, 200);
    await cli.registry.manifests.delete(other as RepositoryName, 'v1', {});
    assert.equal((await get(other, 'v1')).status, 404);
  });
});
