/**
 * The four OCI conformance workflows (test/support/conformance.ts) against Pier in token mode, as
 * the suite runs them with OCI_USERNAME / OCI_PASSWORD, through a client that behaves like the
 * suite's client library (reggie): on a 401 it reads the `Bearer realm=...,service=...,scope=...`
 * challenge, GETs the realm with that service and scope and Basic credentials, takes `token` (or
 * `access_token`) from the JSON and retries the request once, with the same body, under it.
 *
 * Run twice: by a client that keeps its last token and sends it with the next requests (so a
 * request in another repository arrives with a token for the previous one), and by one that sends
 * every request without a token first (reggie sets the token on the retried request only).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basic, jwtPayload, parseChallenge, tokenGet, type Login } from '../support/auth.js';
import { conformanceWorkflows, CROSSMOUNT, NAME, type Call, type CallInit } from '../support/conformance.js';
import { startTestServer, type TestServer } from '../support/server.js';

const login: Login = { username: 'conformance', secret: 'conformance-password' };

interface ReggieLike {
  call: Call;
  /** requests made through `call` (retries not counted) */
  requests: number;
  /** the `scope` of every token request, in order */
  tokenScopes: string[];
}

/** reggie's 401 -> token -> retry-once flow; `keepToken`: the last token goes with the next requests. */
function reggieLike(base: () => string, user: Login, keepToken: boolean): ReggieLike {
  let kept: string | undefined;
  const send = (method: string, path: string, init: CallInit, token: string | undefined) =>
    fetch(`${base()}${path}`, {
      method,
      // a fresh view of the same bytes on every send: a retried PUT/PATCH/POST resends its body
      body: init.body ? new Uint8Array(init.body) : undefined,
      headers: { ...init.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });

  const client: ReggieLike = {
    requests: 0,
    tokenScopes: [],
    call: async (method, path, init = {}) => {
      client.requests++;
      const first = await send(method, path, init, keepToken ? kept : undefined);
      if (first.status !== 401) return first;
      const header = first.headers.get('www-authenticate');
      if (!header) return first;
      await first.arrayBuffer();
      // reggie's parser: every key="value" pair of the header
      const params = Object.fromEntries([...header.matchAll(/([a-zA-Z]+)="(.+?)"/g)].map((m) => [m[1]!, m[2]!]));
      assert.match(header, /^Bearer /, `${method} ${path}: a bearer challenge`);
      assert.ok(params.realm && params.service, `${method} ${path}: realm and service in ${header}`);
      const realm = new URL(params.realm, base());
      realm.searchParams.set('service', params.service);
      if (params.scope) realm.searchParams.set('scope', params.scope);
      client.tokenScopes.push(params.scope ?? '');
      const res = await fetch(realm, { headers: { accept: 'application/json', authorization: basic(user) } });
      const text = await res.text();
      assert.equal(res.status, 200, `token for ${method} ${path} (scope ${params.scope}): ${text}`);
      const body = JSON.parse(text) as { token?: string; access_token?: string };
      const token = body.token || body.access_token;
      assert.ok(token, `a token in ${text}`);
      kept = token;
      return send(method, path, init, token);
    },
  };
  return client;
}

for (const keepToken of [true, false]) {
  describe(`OCI conformance workflows (replayed) in token mode, ${keepToken ? 'keeping the last token' : 'a token per request'}`, () => {
    let server: TestServer;
    const client = reggieLike(() => server.url, login, keepToken);
    const workflows = conformanceWorkflows(client.call);

    before(async () => {
      server = await startTestServer({ 'auth.mode': 'token' });
      await server.hub.accounts.create({ name: login.username, password: login.secret });
    });
    after(() => server.stop());

    it('challenges anonymous requests with a bearer challenge naming the /token realm and service pier', async () => {
      for (const [method, path] of [
        ['GET', '/v2/'],
        ['GET', `/v2/${NAME}/tags/list`],
        ['POST', `/v2/${NAME}/blobs/uploads/`],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, { method });
        assert.equal(res.status, 401, `${method} ${path}`);
        const { scheme, params } = parseChallenge(res.headers.get('www-authenticate'));
        assert.equal(scheme, 'Bearer', path);
        assert.match(params.realm ?? '', /\/token$/, path);
        assert.equal(params.service, 'pier', path);
      }
    });

    it('gives the conformance account a token for the repositories of its namespace', async () => {
      const res = await tokenGet(server.url, { login, scopes: [`repository:${NAME}:pull,push,delete`, `repository:${CROSSMOUNT}:pull,push`] });
      assert.equal(res.status, 200, res.text);
      const token = (res.body.token ?? res.body.access_token) as string;
      assert.ok(token);
      const claims = jwtPayload(token);
      assert.equal(claims.sub, login.username);
      assert.deepEqual(claims.access, [
        { type: 'repository', name: NAME, actions: ['pull', 'push', 'delete'] },
        { type: 'repository', name: CROSSMOUNT, actions: ['pull', 'push'] },
      ]);
    });

    it('pull', () => workflows.pull());
    it('push', () => workflows.push());
    it('content discovery', () => workflows.contentDiscovery());
    it('content management', () => workflows.contentManagement());

    it('went through the challenge flow', () => {
      assert.ok(client.tokenScopes.some((s) => s.split(' ').includes(`repository:${CROSSMOUNT}:pull,push`)));
      const summary = `${client.tokenScopes.length} token requests for ${client.requests} requests`;
      if (keepToken) assert.ok(client.tokenScopes.length < client.requests / 4, summary);
      // no token at first: every request is challenged, none is answered anonymously
      else assert.equal(client.tokenScopes.length, client.requests, summary);
    });

    it('refuses a wrong password at /token with 401', async () => {
      const res = await tokenGet(server.url, { login: { ...login, secret: 'not-the-password' }, scopes: [`repository:${NAME}:pull`] });
      assert.equal(res.status, 401, res.text);
    });
  });
}
