// Immutable tags with the real docker CLI (issue 11): with a rule `v*` on the repository, docker
// pushes v1; v1 rebuilt with other content is refused, and docker prints the rule; the new image
// pushed as v2 works, and v1 still pulls the first image.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

describe('immutable tags with docker', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  const refs = new Set<string>();
  const digestOf = async (tag: string) =>
    (await server.database.db.selectFrom('tags').select('digest').where('repository', '=', 'library/app').where('name', '=', tag).executeTakeFirst())?.digest;

  before(async () => {
    server = await startTestServer();
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    // the official namespace has every plan feature
    await server.hub.immutability.add('library/app', 'v*', 'test');
  });

  after(async () => {
    await docker?.cleanup(refs);
    await server?.stop();
  });

  it('docker pushes v1; v1 with other content is refused with the rule printed; the same image as v2 works', async () => {
    const v1 = `${registry}/library/app:v1`;
    const v2 = `${registry}/library/app:v2`;
    refs.add(v1).add(v2);
    await docker.buildImage({ 'data.bin': randomBytes(100_000) }, v1);
    await docker.ok(['push', v1]);
    const first = await digestOf('v1');
    assert.ok(first);

    await docker.buildImage({ 'data.bin': randomBytes(100_000) }, v1);
    const push = await docker.run(['push', v1]);
    assert.notEqual(push.code, 0, push.stdout);
    assert.match(push.stdout + push.stderr, /denied: tag "v1" of library\/app is immutable \(rule "v\*"\) and cannot be moved to another manifest/);
    assert.equal(await digestOf('v1'), first, 'v1 did not move');

    await docker.ok(['tag', v1, v2]);
    await docker.ok(['push', v2]);
    assert.notEqual(await digestOf('v2'), first);
  });
});
