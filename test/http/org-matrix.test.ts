// The permission matrix of auth-matrix.test.ts, for an organisation: owners, members with and
// without teams (read, write, admin on one repository, read and write on all of them), outsiders,
// anonymous, organisation access tokens limited to one repository, and an administrator, against
// the /v2 routes on a public and a private repository of the organisation. Each cell runs as a
// client runs it (request, challenge, /token with the subject's credentials, request again), and
// whoever may not see the private repository gets, byte for byte, what a missing one answers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, jwtPayload, TestClock, tokenFor, tokenGet, type Login } from '../support/auth.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { matrixClient, matrixText as text } from '../support/matrix.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PUBLIC = 'acme/public';
const PRIVATE = 'acme/private';
const MISSING = 'acme/missing';

type Subject =
  | 'anonymous'
  | 'owner'
  | 'member without team'
  | 'team read'
  | 'team write'
  | 'team admin'
  | 'team read on *'
  | 'team write on *'
  | 'outsider'
  | 'org token on the private repo'
  | 'org token on another repo'
  | 'member PAT repo:read, team admin'
  | 'admin';
type Route = 'HEAD manifest' | 'GET manifest' | 'GET blob' | 'tags list' | 'POST upload' | 'PUT manifest' | 'DELETE manifest' | 'DELETE blob';
const ROUTES: Route[] = ['HEAD manifest', 'GET manifest', 'GET blob', 'tags list', 'POST upload', 'PUT manifest', 'DELETE manifest', 'DELETE blob'];

type Cell = [number, number];
const R: Cell = [200, 200];
const r: Cell = [200, 401];
const none: Cell = [401, 401];
const up: Cell = [202, 202];
const put: Cell = [201, 201];
const del: Cell = [202, 202];
const upPrivate: Cell = [401, 202];
const putPrivate: Cell = [401, 201];
const delPrivate: Cell = [401, 202];

const reads = (cell: Cell) => ({ 'HEAD manifest': cell, 'GET manifest': cell, 'GET blob': cell, 'tags list': cell });
const noWrites = { 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': none, 'DELETE blob': none };

const MATRIX: Record<Subject, Record<Route, Cell>> = {
  anonymous: { ...reads(r), ...noWrites },
  owner: { ...reads(R), 'POST upload': up, 'PUT manifest': put, 'DELETE manifest': del, 'DELETE blob': del },
  'member without team': { ...reads(r), ...noWrites },
  'team read': { ...reads(R), ...noWrites },
  'team write': { ...reads(R), 'POST upload': upPrivate, 'PUT manifest': putPrivate, 'DELETE manifest': none, 'DELETE blob': none },
  'team admin': { ...reads(R), 'POST upload': upPrivate, 'PUT manifest': putPrivate, 'DELETE manifest': delPrivate, 'DELETE blob': delPrivate },
  'team read on *': { ...reads(R), ...noWrites },
  'team write on *': { ...reads(R), 'POST upload': up, 'PUT manifest': put, 'DELETE manifest': none, 'DELETE blob': none },
  outsider: { ...reads(r), ...noWrites },
  'org token on the private repo': { ...reads(R), 'POST upload': upPrivate, 'PUT manifest': putPrivate, 'DELETE manifest': none, 'DELETE blob': none },
  'org token on another repo': { ...reads(r), ...noWrites },
  'member PAT repo:read, team admin': { ...reads(R), ...noWrites },
  admin: { ...reads(R), 'POST upload': up, 'PUT manifest': put, 'DELETE manifest': del, 'DELETE blob': del },
};

describe('organisation permission matrix', () => {
  let server: TestServer;
  const clock = new TestClock();
  const logins = {} as Record<Subject, Login | undefined>;
  const images = {} as Record<string, PushedImage>;
  let adminLogin: Login;

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token', 'auth.loginFailures': 1000 }, { clock });
    const { hub } = server;
    const password = (name: string) => `${name}-password-1`;
    for (const name of ['olive', 'mark', 'rita', 'wade', 'adam', 'rex', 'otto', 'stranger']) await hub.accounts.create({ name, password: password(name) });
    await hub.accounts.create({ name: 'root1', password: password('root1'), admin: true });
    adminLogin = { username: 'root1', secret: password('root1') };

    await hub.organizations.create('acme', 'olive');
    // enough seats and every feature, whatever the default plan allows
    await hub.plans.apply('acme', 'team');
    for (const name of ['mark', 'rita', 'wade', 'adam', 'rex', 'otto']) await hub.organizations.addMember('acme', name);
    const teams: [string, string, 'read' | 'write' | 'admin', string][] = [
      ['readers', PRIVATE, 'read', 'rita'],
      ['writers', PRIVATE, 'write', 'wade'],
      ['admins', PRIVATE, 'admin', 'adam'],
      ['all-readers', '*', 'read', 'rex'],
      ['all-writers', '*', 'write', 'otto'],
    ];
    for (const [team, repository, permission, member] of teams) {
      await hub.teams.create('acme', team);
      await hub.teams.addMember('acme', team, member);
      await hub.teams.setPermission('acme', team, repository, permission);
    }
    const orgToken = async (repository: string) =>
      ({ username: 'acme', secret: (await hub.tokens.createOrganizationToken('acme', { label: repository, scopes: ['repo:write'], repositories: [repository] })).token }) as Login;
    const login = (name: string): Login => ({ username: name, secret: password(name) });
    Object.assign(logins, {
      anonymous: undefined,
      owner: login('olive'),
      'member without team': login('mark'),
      'team read': login('rita'),
      'team write': login('wade'),
      'team admin': login('adam'),
      'team read on *': login('rex'),
      'team write on *': login('otto'),
      outsider: login('stranger'),
      'org token on the private repo': await orgToken(PRIVATE),
      'org token on another repo': await orgToken('acme/other'),
      'member PAT repo:read, team admin': { username: 'adam', secret: (await hub.tokens.createPersonalAccessToken('adam', { label: 'ci', scopes: ['repo:read'] })).token },
      admin: adminLogin,
    });

    const token = await tokenFor(server.url, logins.owner, [`repository:${PUBLIC}:pull,push`, `repository:${PRIVATE}:pull,push`]);
    images[PUBLIC] = await pushImage(server.url, PUBLIC, 'v1', { token });
    images[PRIVATE] = await pushImage(server.url, PRIVATE, 'v1', { token });
    await hub.repositories.setVisibility(PRIVATE, true);
  });
  after(() => server.stop());

  /** One cell, as a client runs it (test/support/matrix.ts). */
  const asClient = (subject: Subject, route: Route, repo: string) =>
    matrixClient({ url: server.url, images, privateRepository: PRIVATE, missingRepository: MISSING, admin: adminLogin }, { requireToken: true }).asClient(logins[subject], route, repo, subject);

  for (const subject of Object.keys(MATRIX) as Subject[]) {
    describe(subject, () => {
      const seesPrivate = MATRIX[subject]['GET manifest'][1] === 200;
      for (const route of ROUTES) {
        const [onPublic, onPrivate] = MATRIX[subject][route];
        it(`${route}: public -> ${onPublic}, private -> ${onPrivate}`, async () => {
          const pub = await asClient(subject, route, PUBLIC);
          assert.equal(pub.status, onPublic, `${route} on ${PUBLIC}: ${pub.body}`);
          assert.ok(!text(pub).includes(PRIVATE), 'a request on the public repository never names the private one');
          const priv = await asClient(subject, route, PRIVATE);
          assert.equal(priv.status, onPrivate, `${route} on ${PRIVATE}: ${priv.body}`);
          if (!seesPrivate) {
            const missing = await asClient(subject, route, MISSING);
            assert.equal(text(priv), text(missing).replaceAll(MISSING, PRIVATE), 'a private repository looks missing');
          }
        });
      }
    });
  }

  it('takes a team grant away at once, for pulls with a token issued before', async () => {
    const token = await tokenFor(server.url, logins['team read'], [`repository:${PRIVATE}:pull`]);
    const before = await fetch(`${server.url}/v2/${PRIVATE}/tags/list`, { headers: bearer(token) });
    assert.equal(before.status, 200, await before.text());
    await server.hub.teams.removeMember('acme', 'readers', 'rita');
    const afterwards = await fetch(`${server.url}/v2/${PRIVATE}/tags/list`, { headers: bearer(token) });
    await afterwards.arrayBuffer();
    assert.equal(afterwards.status, 401);
    await server.hub.teams.addMember('acme', 'readers', 'rita');
  });

  it('refuses an organisation token sent with another user name, and a password for the organisation', async () => {
    const orgToken = logins['org token on the private repo']!;
    const issued = await tokenGet(server.url, { login: orgToken, scopes: [`repository:${PRIVATE}:pull`] });
    const claims = jwtPayload(issued.body.token as string);
    assert.equal(claims.sub, 'acme', 'the subject is the organisation');
    assert.deepEqual(claims.pier_repositories, [PRIVATE], 'limited to its repositories, for /v2 to see');
    assert.equal((await tokenGet(server.url, { login: { username: 'olive', secret: orgToken.secret }, scopes: [`repository:${PRIVATE}:pull`] })).status, 401);
    assert.equal((await tokenGet(server.url, { login: { username: 'acme', secret: 'acme-password-1' }, scopes: [`repository:${PRIVATE}:pull`] })).status, 401);
  });
});
