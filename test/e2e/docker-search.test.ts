// `docker search HOST/TERM` against Pier's /v1/search through a real daemon: official images shown
// as official ([OK]) by their short name, private repositories hidden from anonymous searches and
// found by their owner once logged in (the daemon then sends a registry token from /token).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

describe('docker search against Pier', { ...skipUnless(daemon), timeout: 10 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  const alice = { username: 'alice', secret: 'alice-password-1' };
  const admin = { username: 'boss', secret: 'boss-password-1' };

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: alice.username, password: alice.secret });
    await server.hub.accounts.create({ name: admin.username, password: admin.secret, admin: true });
    const asAlice = await tokenFor(server.url, alice, ['repository:alice/findme-app:push,pull', 'repository:alice/findme-secret:push,pull']);
    await pushImage(server.url, 'alice/findme-app', 'v1', { token: asAlice });
    await pushImage(server.url, 'alice/findme-secret', 'v1', { token: asAlice });
    await server.hub.repositories.setVisibility('alice/findme-secret', true);
    const asAdmin = await tokenFor(server.url, admin, ['repository:library/findme:push,pull']);
    await pushImage(server.url, 'library/findme', 'latest', { token: asAdmin });
    await server.hub.repositories.describe('library/findme', { description: 'The official findme image' });
    await server.hub.repositories.describe('alice/findme-app', { description: 'Alice finds things' });
    await server.hub.stars.star(admin.username, 'alice/findme-app');
    await server.hub.stars.star(alice.username, 'alice/findme-app');
  });

  after(async () => {
    await docker?.cleanup([]);
    await server?.stop();
  });

  /** `docker search` rows as name, official mark, in the CLI's own order. */
  async function search(term: string): Promise<Array<[string, string]>> {
    const { stdout } = await docker.ok(['search', '--no-trunc', '--format', '{{.Name}}\t{{.IsOfficial}}', `${registry}/${term}`], { timeoutMs: 60_000 });
    return stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => line.split('\t') as [string, string]);
  }

  it('lists an official image first, by its short name, as official ([OK] in the table)', async () => {
    assert.deepEqual(await search('findme'), [
      ['findme', '[OK]'],
      ['alice/findme-app', ''],
    ]);
    const { stdout } = await docker.ok(['search', `${registry}/findme`], { timeoutMs: 60_000 });
    assert.match(stdout, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL/m);
    assert.match(stdout, /^findme\s+The official findme image\s+0\s+\[OK\]\s*$/m);
  });

  it('shows descriptions and stars', async () => {
    const { stdout } = await docker.ok(['search', '--no-trunc', '--format', '{{.Name}}|{{.Description}}|{{.StarCount}}', `${registry}/findme`], { timeoutMs: 60_000 });
    assert.deepEqual(stdout.trim().split('\n'), ['findme|The official findme image|0', 'alice/findme-app|Alice finds things|2']);
    const table = await docker.ok(['search', `${registry}/findme-app`], { timeoutMs: 60_000 });
    assert.match(table.stdout, /^alice\/findme-app\s+Alice finds things\s+2\s*$/m);
  });

  it('hides a private repository from an anonymous search', async () => {
    assert.deepEqual(await search('findme-secret'), []);
    assert.deepEqual(await search('alice'), [['alice/findme-app', '']]);
  });

  it('finds the private repository for its owner once logged in', async () => {
    await docker.ok(['login', '--username', alice.username, '--password-stdin', registry], { input: alice.secret });
    assert.deepEqual(await search('alice'), [
      ['alice/findme-app', ''],
      ['alice/findme-secret', ''],
    ]);
    await docker.ok(['logout', registry]);
    assert.deepEqual(await search('findme-secret'), []);
  });

  it('passes --limit as n', async () => {
    assert.deepEqual(await search('findme').then((rows) => rows.length), 2);
    const { stdout } = await docker.ok(['search', '--limit', '1', '--format', '{{.Name}}', `${registry}/findme`], { timeoutMs: 60_000 });
    assert.equal(stdout.trim(), 'findme');
  });
});
