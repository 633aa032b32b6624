// Organisations with the real docker CLI: a member whose team has write pushes to org/app, an
// outsider is denied, `docker login -u <org> -p <organisation token>` pulls a private repository of
// the organisation (and only that one), an administrator pushes an official image under a one-part
// name, and anyone pulls it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();
const DENIED = /denied|unauthorized|authentication required|does not exist or may require/i;

describe('docker with organisations and official images', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  let imageId: string;
  const refs = new Set<string>();
  const official = `pier-official-${randomBytes(3).toString('hex')}`;

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    const { hub } = server;
    for (const name of ['olive', 'wade', 'stranger']) await hub.accounts.create({ name, password: `${name}-password-1` });
    await hub.accounts.create({ name: 'boss', password: 'boss-password-1', admin: true });
    await hub.organizations.create('acme', 'olive');
    await server.hub.plans.apply('acme', 'team');
    await hub.organizations.addMember('acme', 'wade');
    await hub.teams.create('acme', 'builders');
    await hub.teams.addMember('acme', 'builders', 'wade');
    await hub.teams.setPermission('acme', 'builders', 'app', 'write');

    const tag = `pier-org-test:${Date.now()}`;
    imageId = (await docker.buildImage({ 'data.bin': randomBytes(100_000) }, tag)).id;
    for (const name of ['acme/app:v1', 'acme/other:v1', `${official}:v1`]) {
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

  it('lets a member whose team has write push to the organisation, and no further', async () => {
    await login('wade', 'wade-password-1');
    await docker.ok(['push', `${registry}/acme/app:v1`]);
    const elsewhere = await docker.run(['push', `${registry}/acme/other:v1`]);
    assert.notEqual(elsewhere.code, 0, 'the team has write on acme/app only');
    assert.match(elsewhere.stdout + elsewhere.stderr, DENIED);
    await docker.ok(['logout', registry]);
  });

  it('denies an outsider', async () => {
    await login('stranger', 'stranger-password-1');
    const res = await docker.run(['push', `${registry}/acme/app:v1`]);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, DENIED);
    await docker.ok(['logout', registry]);
  });

  it('logs in as the organisation with an organisation token and pulls what it may, privately', async () => {
    await login('olive', 'olive-password-1');
    await docker.ok(['push', `${registry}/acme/other:v1`]);
    await docker.ok(['logout', registry]);
    await server.hub.repositories.setVisibility('acme/app', true);
    await server.hub.repositories.setVisibility('acme/other', true);
    const { token } = await server.hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:read'], repositories: ['app'] });

    await removeLocal(`${registry}/acme/app:v1`);
    await removeLocal(`${registry}/acme/other:v1`);
    const anonymous = await docker.run(['pull', `${registry}/acme/app:v1`]);
    assert.notEqual(anonymous.code, 0, 'private to strangers');

    const out = await login('acme', token);
    assert.match(out.stdout, /Login Succeeded/);
    await docker.ok(['pull', `${registry}/acme/app:v1`]);
    assert.equal((await docker.inspectImage(`${registry}/acme/app:v1`)).Id, imageId);
    const other = await docker.run(['pull', `${registry}/acme/other:v1`]);
    assert.notEqual(other.code, 0, 'the token lists acme/app only');
    const push = await docker.run(['push', `${registry}/acme/app:v1`]);
    // a read-only token may not push: docker reports the refusal unless every layer is already there
    if (push.code === 0) assert.match(push.stdout, /Layer already exists|digest:/);
    await docker.ok(['logout', registry]);
  });

  it('lets an administrator push an official image by its one-part name, and anyone pull it', async () => {
    const denied = await docker.run(['push', `${registry}/${official}:v1`]);
    assert.notEqual(denied.code, 0);
    await login('olive', 'olive-password-1');
    const user = await docker.run(['push', `${registry}/${official}:v1`]);
    assert.notEqual(user.code, 0, 'a user does not push official images');
    assert.match(user.stdout + user.stderr, DENIED);
    await login('boss', 'boss-password-1');
    await docker.ok(['push', `${registry}/${official}:v1`]);
    await docker.ok(['logout', registry]);
    assert.ok((await server.hub.repositories.visibility(`library/${official}`)).exists, 'a one-part name is library/<name>');

    await removeLocal(`${registry}/${official}:v1`);
    await docker.ok(['pull', `${registry}/${official}:v1`]);
    assert.equal((await docker.inspectImage(`${registry}/${official}:v1`)).Id, imageId);
    refs.add(`${registry}/library/${official}:v1`);
    await docker.ok(['pull', `${registry}/library/${official}:v1`]);
  });
});
