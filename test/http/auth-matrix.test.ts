// The permission matrix: every kind of subject against every kind of /v2 route, on a public and a
// private repository of alice. Each cell is run the way a client runs it: the request, its 401
// challenge, a token for the challenge's scope with the subject's credentials, the request again.
// Besides the status, no response may reveal the private repository: responses to requests that
// do not name it never contain its name, and a subject who may not see it gets, byte for byte,
// the answer it would get for a repository that does not exist.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClock, tokenFor, type Login } from '../support/auth.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { matrixClient, matrixText as text, type MatrixRoute } from '../support/matrix.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PUBLIC = 'alice/public';
const PRIVATE = 'alice/private';
/** never created: what a private repository must look like to those who may not see it */
const MISSING = 'alice/missing';

type Subject = 'anonymous' | 'owner' | 'other user' | 'PAT repo:read' | 'PAT repo:write' | 'PAT repo:delete' | 'PAT repo:admin' | 'expired PAT' | 'revoked PAT' | 'admin';
type Route = MatrixRoute;

const ROUTES: Route[] = ['HEAD manifest', 'GET manifest', 'GET blob', 'tags list', 'referrers', 'POST upload', 'PUT manifest', 'DELETE manifest', 'DELETE blob', 'catalog'];

// status on [public, private]; the catalog's row says whether the private repository is listed
const R: [number, number] = [200, 200]; // reads everything
const r: [number, number] = [200, 401]; // reads public only
const none: [number, number] = [401, 401];
const up: [number, number] = [202, 202];
const put: [number, number] = [201, 201];
const del: [number, number] = [202, 202];
type Row = Record<Exclude<Route, 'catalog'>, [number, number]> & { catalog: 'public' | 'all' | 401 };

// prettier-ignore
const MATRIX: Record<Subject, Row> = {
  //                HEAD manifest     GET manifest     GET blob     tags list     referrers     POST upload     PUT manifest     DELETE manifest     DELETE blob     catalog
  'anonymous':       { 'HEAD manifest': r, 'GET manifest': r, 'GET blob': r, 'tags list': r, referrers: r, 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': none, 'DELETE blob': none, catalog: 'public' },
  'owner':           { 'HEAD manifest': R, 'GET manifest': R, 'GET blob': R, 'tags list': R, referrers: R, 'POST upload': up,   'PUT manifest': put,  'DELETE manifest': del,  'DELETE blob': del,  catalog: 'all' },
  'other user':      { 'HEAD manifest': r, 'GET manifest': r, 'GET blob': r, 'tags list': r, referrers: r, 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': none, 'DELETE blob': none, catalog: 'public' },
  'PAT repo:read':   { 'HEAD manifest': R, 'GET manifest': R, 'GET blob': R, 'tags list': R, referrers: R, 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': none, 'DELETE blob': none, catalog: 'all' },
  'PAT repo:write':  { 'HEAD manifest': R, 'GET manifest': R, 'GET blob': R, 'tags list': R, referrers: R, 'POST upload': up,   'PUT manifest': put,  'DELETE manifest': none, 'DELETE blob': none, catalog: 'all' },
  'PAT repo:delete': { 'HEAD manifest': R, 'GET manifest': R, 'GET blob': R, 'tags list': R, referrers: R, 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': del,  'DELETE blob': del,  catalog: 'all' },
  'PAT repo:admin':  { 'HEAD manifest': R, 'GET manifest': R, 'GET blob': R, 'tags list': R, referrers: R, 'POST upload': up,   'PUT manifest': put,  'DELETE manifest': del,  'DELETE blob': del,  catalog: 'all' },
  'expired PAT':     { 'HEAD manifest': none, 'GET manifest': none, 'GET blob': none, 'tags list': none, referrers: none, 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': none, 'DELETE blob': none, catalog: 401 },
  'revoked PAT':     { 'HEAD manifest': none, 'GET manifest': none, 'GET blob': none, 'tags list': none, referrers: none, 'POST upload': none, 'PUT manifest': none, 'DELETE manifest': none, 'DELETE blob': none, catalog: 401 },
  'admin':           { 'HEAD manifest': R, 'GET manifest': R, 'GET blob': R, 'tags list': R, referrers: R, 'POST upload': up,   'PUT manifest': put,  'DELETE manifest': del,  'DELETE blob': del,  catalog: 'all' },
};

describe('permission matrix', () => {
  let server: TestServer;
  const clock = new TestClock();
  const logins = {} as Record<Subject, Login | undefined>;
  const images = {} as Record<string, PushedImage>;
  let adminLogin: Login;

  before(async () => {
    // the expired and revoked tokens fail a login each time: keep the throttle out of the way
    server = await startTestServer({ 'auth.mode': 'token', 'auth.loginFailures': 1000 }, { clock });
    const { hub } = server;
    await hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
    await hub.accounts.create({ name: 'bob', password: 'bob-password-1' });
    await hub.accounts.create({ name: 'root1', password: 'root-password-1', admin: true });
    adminLogin = { username: 'root1', secret: 'root-password-1' };
    const pat = async (scope: string, expiresAt?: number) =>
      ({ username: 'alice', secret: (await hub.tokens.createPersonalAccessToken('alice', { label: scope, scopes: [scope], expiresAt })).token }) as Login;
    Object.assign(logins, {
      anonymous: undefined,
      owner: { username: 'alice', secret: 'alice-password-1' },
      'other user': { username: 'bob', secret: 'bob-password-1' },
      'PAT repo:read': await pat('repo:read'),
      'PAT repo:write': await pat('repo:write'),
      'PAT repo:delete': await pat('repo:delete'),
      'PAT repo:admin': await pat('repo:admin'),
      'expired PAT': await pat('repo:admin', clock.now() + 60_000),
      'revoked PAT': await pat('repo:admin'),
      admin: adminLogin,
    });
    const [revoked] = (await hub.tokens.listPersonalAccessTokens('alice')).slice(-1);
    await hub.tokens.revokePersonalAccessToken('alice', revoked!.id);
    clock.advance(60_001);

    const token = await tokenFor(server.url, logins.owner, [`repository:${PUBLIC}:pull,push`, `repository:${PRIVATE}:pull,push`]);
    images[PUBLIC] = await pushImage(server.url, PUBLIC, 'v1', { token });
    images[PRIVATE] = await pushImage(server.url, PRIVATE, 'v1', { token });
    await hub.repositories.setVisibility(PRIVATE, true);
  });
  after(() => server.stop());

  /** One cell, as a client runs it (test/support/matrix.ts). */
  const asClient = (subject: Subject, route: Route, repo: string) =>
    matrixClient({ url: server.url, images, privateRepository: PRIVATE, missingRepository: MISSING, admin: adminLogin }).asClient(logins[subject], route, repo, subject);

  for (const subject of Object.keys(MATRIX) as Subject[]) {
    describe(subject, () => {
      const seesPrivate = MATRIX[subject]['GET manifest'][1] === 200;
      for (const route of ROUTES) {
        if (route === 'catalog') {
          it(`catalog -> ${MATRIX[subject].catalog}`, async () => {
            const answer = await asClient(subject, route, '');
            const expected = MATRIX[subject].catalog;
            if (expected === 401) return assert.equal(answer.status, 401);
            assert.equal(answer.status, 200, answer.body);
            const listed = (JSON.parse(answer.body) as { repositories: string[] }).repositories;
            assert.ok(listed.includes(PUBLIC));
            assert.equal(listed.includes(PRIVATE), expected === 'all');
            if (expected !== 'all') {
              assert.ok(!text(answer).includes(PRIVATE), 'the private name is nowhere in the answer');
              assert.ok(!answer.tokens.join('\n').includes(PRIVATE));
            }
          });
          continue;
        }
        const [onPublic, onPrivate] = MATRIX[subject][route];
        it(`${route}: public -> ${onPublic}, private -> ${onPrivate}`, async () => {
          const pub = await asClient(subject, route, PUBLIC);
          assert.equal(pub.status, onPublic, `${route} on ${PUBLIC}: ${pub.body}`);
          assert.ok(!text(pub).includes(PRIVATE) && !pub.tokens.join('\n').includes(PRIVATE), 'a request on the public repository never names the private one');

          const priv = await asClient(subject, route, PRIVATE);
          assert.equal(priv.status, onPrivate, `${route} on ${PRIVATE}: ${priv.body}`);
          if (!seesPrivate) {
            // byte for byte what a repository that does not exist answers
            const missing = await asClient(subject, route, MISSING);
            const rename = (s: string) => s.replaceAll(MISSING, PRIVATE);
            assert.equal(text(priv), rename(text(missing)));
            // the token answers on the way are the same too, but for what changes with every token
            const unique = (t: string) => t.replace(/"(jti|iat|nbf|exp)":("[^"]*"|\d+)/g, '').replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, 'JWT');
            assert.deepEqual(priv.tokens.map(unique), missing.tokens.map((t) => unique(rename(t))));
          }
        });
      }
    });
  }
});
