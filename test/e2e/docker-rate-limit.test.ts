// The real docker CLI against a small anonymous pull limit: `docker pull` works until the limit,
// then fails with docker printing the toomanyrequests message; the headers are checked with fetch.
// The daemon connects from 127.0.0.1, which is exempt by default: the test lifts the exemption.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { ACCEPT_ALL } from '../support/images.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

describe('docker pull and the pull rate limit', { ...skipUnless(daemon), timeout: 10 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let refs: string[];
  let repository: string;

  before(async () => {
    const host = requireTool(daemon);
    server = await startTestServer();
    docker = await DockerClient.create(host);
    repository = `limits/app-${randomBytes(4).toString('hex')}`;
    // three different images: the daemon GETs a manifest it does not hold, but may only HEAD one
    // it still has in its content store (HEAD is free), so each counted pull is a new image
    refs = ['v1', 'v2', 'v3'].map((tag) => `${new URL(server.url).host}/${repository}:${tag}`);
    for (const ref of refs) {
      await docker.buildImage({ 'data.bin': randomBytes(50_000) }, ref);
      await docker.ok(['push', ref]);
      await docker.ok(['rmi', ref]);
    }
    await server.hub.settings.set('pullLimitExempt', []);
    await server.hub.settings.set('anonymousPullLimit', 2);
    await server.hub.settings.set('anonymousPullWindowSeconds', 3600);
  });

  after(async () => {
    await docker?.cleanup(refs ?? []);
    await server?.stop();
  });

  const manifest = async (method: string) => {
    const res = await fetch(`${server.url}/v2/${repository}/manifests/v1`, { method, headers: { accept: ACCEPT_ALL } });
    return { res, text: await res.text() };
  };

  it('pulls until the limit, then docker prints toomanyrequests and how to raise it', async () => {
    const head = await manifest('HEAD');
    assert.equal(head.res.status, 200);
    assert.equal(head.res.headers.get('ratelimit-limit'), '2;w=3600');
    assert.equal(head.res.headers.get('ratelimit-remaining'), '2;w=3600', 'HEAD is free');

    await docker.ok(['pull', refs[0]!]);
    assert.equal((await manifest('HEAD')).res.headers.get('ratelimit-remaining'), '1;w=3600', 'one docker pull is one pull');
    await docker.ok(['pull', refs[1]!]);

    const refused = await docker.run(['pull', refs[2]!]);
    assert.notEqual(refused.code, 0, 'the third pull fails');
    const output = `${refused.stdout}\n${refused.stderr}`;
    assert.match(output, /toomanyrequests/);
    assert.match(output, /pull rate limit for anonymous clients: 2 pulls per 1 hour/);
    assert.match(output, /docker login/);

    const get = await manifest('GET');
    assert.equal(get.res.status, 429);
    assert.equal(get.res.headers.get('ratelimit-limit'), '2;w=3600');
    assert.equal(get.res.headers.get('ratelimit-remaining'), '0;w=3600');
    assert.ok(Number(get.res.headers.get('retry-after')) > 0);
    assert.match(get.text, /TOOMANYREQUESTS/);
  });
});
