// The permission matrix of the account and administration routes of /api/v1: every kind of
// caller (anonymous, the password, a session token from /users/login, a browser session cookie
// with and without its CSRF token or from another site, an ended browser session, personal and
// organisation access tokens, administrators by each way in) against each route. A refusal must
// be the right problem: 401 unauthorized, 403 forbidden, or 403 csrf.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';
import { CookieBrowser, type BrowserRequest } from '../support/cookie-browser.js';

type Subject =
  | 'anonymous'
  | 'password'
  | 'session token'
  | 'browser'
  | 'browser without CSRF token'
  | 'cross-site form'
  | 'ended browser session'
  | 'PAT repo:admin'
  | 'organisation token'
  | 'admin password'
  | 'admin session token'
  | 'admin browser'
  | 'admin PAT';

type Route = 'GET /users/me' | 'PATCH /users/me' | 'GET /users/me/tokens' | 'POST /users/me/tokens' | 'GET /users/me/sessions' | 'GET /users' | 'PATCH /users/{username}' | 'PUT /users/{username}/password';

const ROUTES: Record<Route, { method: string; path: string; json?: unknown; ok: number }> = {
  'GET /users/me': { method: 'GET', path: '/users/me', ok: 200 },
  'PATCH /users/me': { method: 'PATCH', path: '/users/me', json: { default_private: false }, ok: 200 },
  'GET /users/me/tokens': { method: 'GET', path: '/users/me/tokens', ok: 200 },
  'POST /users/me/tokens': { method: 'POST', path: '/users/me/tokens', json: { label: 'matrix', scopes: ['repo:read'] }, ok: 201 },
  'GET /users/me/sessions': { method: 'GET', path: '/users/me/sessions', ok: 200 },
  'GET /users': { method: 'GET', path: '/users', ok: 200 },
  'PATCH /users/{username}': { method: 'PATCH', path: '/users/victim', json: { admin: false }, ok: 200 },
  'PUT /users/{username}/password': { method: 'PUT', path: '/users/victim/password', json: { new_password: 'victim password 1' }, ok: 204 },
};

type Cell = 'ok' | 'unauthorized' | 'forbidden' | 'csrf';
const ok: Cell = 'ok';
const no: Cell = 'unauthorized';
const deny: Cell = 'forbidden';
const csrf: Cell = 'csrf';

const account = { 'GET /users/me': ok, 'PATCH /users/me': ok, 'GET /users/me/tokens': ok, 'POST /users/me/tokens': ok, 'GET /users/me/sessions': ok };
const noAdmin = { 'GET /users': deny, 'PATCH /users/{username}': deny, 'PUT /users/{username}/password': deny };
const admin = { 'GET /users': ok, 'PATCH /users/{username}': ok, 'PUT /users/{username}/password': ok };
const tokenOnly = { 'GET /users/me': ok, 'PATCH /users/me': deny, 'GET /users/me/tokens': deny, 'POST /users/me/tokens': deny, 'GET /users/me/sessions': deny, ...noAdmin };
const reads = (write: Cell) => ({
  'GET /users/me': ok,
  'PATCH /users/me': write,
  'GET /users/me/tokens': ok,
  'POST /users/me/tokens': write,
  'GET /users/me/sessions': ok,
  'GET /users': deny,
  'PATCH /users/{username}': write,
  'PUT /users/{username}/password': write,
});
const all = (cell: Cell) => Object.fromEntries(Object.keys(ROUTES).map((r) => [r, cell])) as Record<Route, Cell>;

// prettier-ignore
const MATRIX: Record<Subject, Record<Route, Cell>> = {
  'anonymous':                  all(no),
  'password':                   { ...account, ...noAdmin },
  'session token':              { ...account, ...noAdmin },
  'browser':                    { ...account, ...noAdmin },
  // the cookie still reads; it changes nothing without the token, whoever the caller
  'browser without CSRF token': reads(csrf),
  'cross-site form':            reads(csrf),
  'ended browser session':      all(no),
  'PAT repo:admin':             tokenOnly,
  'organisation token':         tokenOnly,
  'admin password':             { ...account, ...admin },
  'admin session token':        { ...account, ...admin },
  'admin browser':              { ...account, ...admin },
  'admin PAT':                  tokenOnly,
};

describe('/api/v1 permission matrix: account and administration routes, by kind of caller', () => {
  let server: ApiServer;
  const callers = {} as Record<Subject, (route: Route) => Promise<Response>>;

  before(async () => {
    server = await startApiServer({ 'auth.loginFailures': 1000 });
    await createUser(server, 'alice');
    await createUser(server, 'root1', { admin: true });
    await createUser(server, 'victim');
    await server.hub.organizations.create('acme', 'alice');
    await server.hub.plans.apply('acme', 'team');

    const request = (route: Route, init: BrowserRequest & { authorization?: string } = {}) => {
      const { method, path, json } = ROUTES[route];
      const headers: Record<string, string> = { ...init.headers };
      if (init.authorization) headers.authorization = init.authorization;
      return server.api(path, { method, json, headers });
    };
    const basic = (name: string, secret: string) => `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
    const withHeader = (authorization: string) => (route: Route) => request(route, { authorization });
    const inBrowser = async (name: string, options: BrowserRequest = {}) => {
      const browser = new CookieBrowser(server.url);
      await browser.signIn(name);
      return { browser, call: (route: Route) => browser.api(ROUTES[route].path, { method: ROUTES[route].method, json: ROUTES[route].json, ...options }) };
    };
    const pat = async (owner: string) => (await server.hub.tokens.createPersonalAccessToken(owner, { label: 'matrix', scopes: ['repo:admin'] })).token;
    const orgToken = (await server.hub.tokens.createOrganizationToken('acme', { label: 'ci', scopes: ['repo:admin'] })).token;
    // an ended session: a browser that was not told keeps its cookies, and sends its token
    const ended = await inBrowser('alice');
    await server.hub.browserSessions.revokeAll('alice');

    Object.assign(callers, {
      anonymous: (route: Route) => request(route),
      password: withHeader(basic('alice', PASSWORD)),
      'session token': withHeader(`Bearer ${await signIn(server, 'alice')}`),
      browser: (await inBrowser('alice')).call,
      'browser without CSRF token': (await inBrowser('alice', { csrf: false, origin: null })).call,
      'cross-site form': (await inBrowser('alice', { csrf: false, origin: 'http://evil.example' })).call,
      'ended browser session': ended.call,
      'PAT repo:admin': withHeader(`Bearer ${await pat('alice')}`),
      'organisation token': withHeader(basic('acme', orgToken)),
      'admin password': withHeader(basic('root1', PASSWORD)),
      'admin session token': withHeader(`Bearer ${await signIn(server, 'root1')}`),
      'admin browser': (await inBrowser('root1')).call,
      'admin PAT': withHeader(`Bearer ${await pat('root1')}`),
    });
  });
  after(() => server.stop());

  for (const subject of Object.keys(MATRIX) as Subject[]) {
    describe(subject, () => {
      for (const route of Object.keys(ROUTES) as Route[]) {
        const expected = MATRIX[subject][route];
        it(`${route} -> ${expected === 'ok' ? ROUTES[route].ok : expected}`, async () => {
          const res = await callers[subject](route);
          if (expected === 'ok') {
            const text = await res.text();
            assert.equal(res.status, ROUTES[route].ok, text);
            return;
          }
          await expectProblem(res, expected === 'unauthorized' ? 401 : 403, undefined, expected);
        });
      }
    });
  }
});
