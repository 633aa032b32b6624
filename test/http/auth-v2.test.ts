// /v2 under token auth: the exact challenge of every route kind, bad and expired tokens,
// insufficient scope, private repositories indistinguishable from missing ones, visibility
// changes that take effect at once, mounts, and the catalog filtered per caller.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bearer, parseChallenge, TestClock, tokenFor, tokenGet, type Login } from '../support/auth.js';
import { pushImage, type PushedImage } from '../support/images.js';
import { sha256, pushBlob } from '../support/oci.js';
import { startTestServer, type TestServer } from '../support/server.js';

const alice: Login = { username: 'alice', secret: 'alice-password-1' };
const bob: Login = { username: 'bob', secret: 'bob-password-1' };
const root: Login = { username: 'root1', secret: 'root-password-1' };

describe('/v2 with token auth', () => {
  let server: TestServer;
  const clock = new TestClock();
  let realm: string;
  let pub: PushedImage;
  let priv: PushedImage;

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' }, { clock });
    realm = `${server.url}/token`;
    await server.hub.accounts.create({ name: 'alice', password: alice.secret });
    await server.hub.plans.apply('alice', 'pro'); // several private repositories
    await server.hub.accounts.create({ name: 'bob', password: bob.secret });
    await server.hub.accounts.create({ name: 'root1', password: root.secret, admin: true });
    const token = await tokenFor(server.url, alice, ['repository:alice/public:pull,push', 'repository:alice/private:pull,push']);
    pub = await pushImage(server.url, 'alice/public', 'v1', { token });
    priv = await pushImage(server.url, 'alice/private', 'v1', { token });
    await server.hub.repositories.setVisibility('alice/private', true);
  });
  after(() => server.stop());

  const url = (path: string) => `${server.url}${path}`;

  describe('challenges', () => {
    const digest = sha256('anything');
    const cases: Array<[string, string, string | undefined]> = [
      ['GET', '/v2/', undefined],
      ['HEAD', '/v2/', undefined],
      ['GET', '/v2', undefined],
      ['GET', '/v2/_catalog', 'registry:catalog:*'],
      ['GET', '/v2/alice/app/tags/list', 'repository:alice/app:pull'],
      ['GET', '/v2/alice/app/manifests/v1', 'repository:alice/app:pull'],
      ['HEAD', '/v2/alice/app/manifests/v1', 'repository:alice/app:pull'],
      ['PUT', '/v2/alice/app/manifests/v1', 'repository:alice/app:pull,push'],
      ['DELETE', `/v2/alice/app/manifests/${digest}`, 'repository:alice/app:delete'],
      ['GET', `/v2/alice/app/blobs/${digest}`, 'repository:alice/app:pull'],
      ['HEAD', `/v2/alice/app/blobs/${digest}`, 'repository:alice/app:pull'],
      ['DELETE', `/v2/alice/app/blobs/${digest}`, 'repository:alice/app:delete'],
      ['GET', `/v2/alice/app/referrers/${digest}`, 'repository:alice/app:pull'],
      ['POST', '/v2/alice/app/blobs/uploads/', 'repository:alice/app:pull,push'],
      ['POST', `/v2/alice/app/blobs/uploads/?digest=${digest}`, 'repository:alice/app:pull,push'],
      ['POST', `/v2/alice/app/blobs/uploads/?mount=${digest}`, 'repository:alice/app:pull,push'],
      ['POST', `/v2/alice/app/blobs/uploads/?mount=${digest}&from=bob/src`, 'repository:alice/app:pull,push repository:bob/src:pull'],
      ['POST', `/v2/alice/app/blobs/uploads/?mount=${digest}&from=alice/app`, 'repository:alice/app:pull,push'],
      ['GET', '/v2/alice/app/blobs/uploads/some-id', 'repository:alice/app:pull,push'],
      ['PATCH', '/v2/alice/app/blobs/uploads/some-id', 'repository:alice/app:pull,push'],
      ['PUT', `/v2/alice/app/blobs/uploads/some-id?digest=${digest}`, 'repository:alice/app:pull,push'],
      ['DELETE', '/v2/alice/app/blobs/uploads/some-id', 'repository:alice/app:pull,push'],
      ['GET', '/v2/nginx/manifests/latest', 'repository:library/nginx:pull'],
      ['GET', '/v2/alice/team/app/tags/list', 'repository:alice/team/app:pull'],
    ];
    for (const [method, path, scope] of cases) {
      it(`${method} ${path} -> ${scope ?? 'no scope'}`, async () => {
        const res = await fetch(url(path), { method, ...(method === 'PUT' || method === 'PATCH' ? { body: 'x' } : {}) });
        assert.equal(res.status, 401);
        const expected = `Bearer realm="${realm}",service="pier"${scope ? `,scope="${scope}"` : ''}`;
        assert.equal(res.headers.get('www-authenticate'), expected);
        assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
        const text = await res.text();
        if (method === 'HEAD') return assert.equal(text, '');
        const body = JSON.parse(text) as { errors: Array<{ code: string; message: string; detail?: unknown }> };
        assert.equal(body.errors[0]!.code, 'UNAUTHORIZED');
        assert.equal(body.errors[0]!.message, 'authentication required');
      });
    }

    it('lets any valid token through /v2/', async () => {
      const token = await tokenFor(server.url, undefined, []);
      const res = await fetch(url('/v2/'), { headers: bearer(token) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '{}');
    });

    it('answers a bad token with error="invalid_token"', async () => {
      const good = await tokenFor(server.url, alice, ['repository:alice/public:pull']);
      const [h, p, s] = good.split('.');
      const tampered = [h, Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'root1' })).toString('base64url'), s].join('.');
      for (const token of ['garbage', 'a.b.c', tampered]) {
        for (const path of ['/v2/', '/v2/alice/public/tags/list']) {
          const res = await fetch(url(path), { headers: bearer(token) });
          assert.equal(res.status, 401);
          const scope = path === '/v2/' ? '' : ',scope="repository:alice/public:pull"';
          assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm}",service="pier"${scope},error="invalid_token"`);
          const body = (await res.json()) as { errors: Array<{ code: string }> };
          assert.equal(body.errors[0]!.code, 'UNAUTHORIZED');
        }
      }
    });

    it('answers an expired token with error="invalid_token"', async () => {
      const token = await tokenFor(server.url, alice, ['repository:alice/private:pull']);
      const ok = await fetch(url('/v2/alice/private/tags/list'), { headers: bearer(token) });
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      // 5 minutes of life, and the minute of clock skew that replicas are allowed
      clock.advance((300 + 61) * 1000);
      const res = await fetch(url('/v2/alice/private/tags/list'), { headers: bearer(token) });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm}",service="pier",scope="repository:alice/private:pull",error="invalid_token"`);
      await res.arrayBuffer();
    });

    it('answers a token short of a scope with DENIED and error="insufficient_scope", naming what is needed', async () => {
      const token = await tokenFor(server.url, alice, ['repository:alice/public:pull']);
      const res = await fetch(url('/v2/alice/public/blobs/uploads/'), { method: 'POST', headers: bearer(token) });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm}",service="pier",scope="repository:alice/public:pull,push",error="insufficient_scope"`);
      assert.deepEqual(await res.json(), {
        errors: [
          {
            code: 'DENIED',
            message: 'requested access to the resource is denied',
            detail: [
              { Type: 'repository', Name: 'alice/public', Action: 'pull' },
              { Type: 'repository', Name: 'alice/public', Action: 'push' },
            ],
          },
        ],
      });
    });

    it('does not let a token for one repository into another', async () => {
      const token = await tokenFor(server.url, alice, ['repository:alice/public:pull,push,delete']);
      const res = await fetch(url('/v2/alice/private/tags/list'), { headers: bearer(token) });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"$/);
      await res.arrayBuffer();
    });
  });

  describe('private repositories', () => {
    /** The same request on two repositories, as a client would make it: challenge, token, retry. */
    async function asClient(login: Login | undefined, method: string, path: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
      const first = await fetch(url(path), { method });
      await first.arrayBuffer();
      const scope = parseChallenge(first.headers.get('www-authenticate')).params.scope;
      const token = await tokenFor(server.url, login, scope ? scope.split(' ') : []);
      const res = await fetch(url(path), { method, headers: bearer(token) });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, key) => {
        // the request's own id differs by nature
        if (key !== 'date' && key !== 'keep-alive' && key !== 'connection' && key !== 'x-request-id') headers[key] = value;
      });
      return { status: res.status, headers, body: await res.text() };
    }

    for (const [who, login] of [
      ['anonymous', undefined],
      ['another user', bob],
    ] as const) {
      it(`look exactly like missing ones to ${who}`, async () => {
        const paths = (repo: string, image: PushedImage) => [
          ['GET', `/v2/${repo}/manifests/${image.reference}`],
          ['HEAD', `/v2/${repo}/manifests/${image.digest}`],
          ['GET', `/v2/${repo}/blobs/${image.layers[0]!.digest}`],
          ['HEAD', `/v2/${repo}/blobs/${image.layers[0]!.digest}`],
          ['GET', `/v2/${repo}/tags/list`],
          ['GET', `/v2/${repo}/referrers/${image.digest}`],
          ['POST', `/v2/${repo}/blobs/uploads/`],
          ['DELETE', `/v2/${repo}/manifests/${image.digest}`],
        ];
        const missing = paths('alice/missing', priv);
        for (const [i, [method, path]] of paths('alice/private', priv).entries()) {
          const a = await asClient(login, method!, path!);
          const b = await asClient(login, method!, missing[i]![1]!);
          assert.equal(a.status, 401, `${method} ${path}`);
          const rename = (s: string) => s.replaceAll('alice/missing', 'alice/private');
          assert.equal(a.status, b.status, `${method} ${path}`);
          assert.deepEqual(a.headers, JSON.parse(rename(JSON.stringify(b.headers))), `${method} ${path}`);
          assert.equal(a.body, rename(b.body), `${method} ${path}`);
        }
      });
    }

    it('stop being pullable at once when made private, even with a token issued before; owners and admins pull without a visibility query', async () => {
      await server.hub.repositories.setVisibility('alice/public', false);
      const scopes = ['repository:alice/public:pull'];
      const tokens = {
        anonymous: await tokenFor(server.url, undefined, scopes),
        bob: await tokenFor(server.url, bob, scopes),
        alice: await tokenFor(server.url, alice, scopes),
        root: await tokenFor(server.url, root, scopes),
      };
      // /v2 asks the policy per request; the policy answers owners and administrators without a query
      const repositories = server.hub.repositories;
      const original = repositories.visibility.bind(repositories);
      let asked = 0;
      repositories.visibility = async (name) => {
        asked++;
        return original(name);
      };
      try {
        const pull = async (token: string) => {
          const res = await fetch(url(`/v2/alice/public/manifests/${pub.reference}`), { headers: bearer(token) });
          await res.arrayBuffer();
          return res.status;
        };
        for (const token of Object.values(tokens)) assert.equal(await pull(token), 200);
        assert.equal(asked, 2, 'asked for the anonymous and the other user only');
        await server.hub.repositories.setVisibility('alice/public', true);
        asked = 0;
        assert.equal(await pull(tokens.anonymous), 401);
        assert.equal(await pull(tokens.bob), 401);
        assert.equal(await pull(tokens.alice), 200);
        assert.equal(await pull(tokens.root), 200);
        assert.equal(asked, 2);
      } finally {
        repositories.visibility = original;
        await server.hub.repositories.setVisibility('alice/public', false);
      }
    });

    it('are invisible to anonymous callers when pulling requires login, public ones included', async () => {
      await server.hub.settings.set('pullRequiresLogin', true);
      try {
        const anonymous = await tokenFor(server.url, undefined, ['repository:alice/public:pull', 'registry:catalog:*']);
        const res = await fetch(url('/v2/alice/public/tags/list'), { headers: bearer(anonymous) });
        assert.equal(res.status, 401);
        await res.arrayBuffer();
        const catalog = await fetch(url('/v2/_catalog'), { headers: bearer(anonymous) });
        assert.deepEqual(await catalog.json(), { repositories: [] });
        const token = await tokenFor(server.url, bob, ['repository:alice/public:pull']);
        const ok = await fetch(url('/v2/alice/public/tags/list'), { headers: bearer(token) });
        assert.equal(ok.status, 200);
        await ok.arrayBuffer();
      } finally {
        await server.hub.settings.set('pullRequiresLogin', false);
      }
    });
  });

  describe('mounts', () => {
    const mount = (target: string, digest: string, from?: string) =>
      url(`/v2/${target}/blobs/uploads/?mount=${encodeURIComponent(digest)}${from ? `&from=${encodeURIComponent(from)}` : ''}`);

    it('mount from a repository the caller may pull', async () => {
      const token = await tokenFor(server.url, bob, ['repository:bob/app:pull,push', 'repository:alice/public:pull']);
      const res = await fetch(mount('bob/app', pub.layers[0]!.digest, 'alice/public'), { method: 'POST', headers: bearer(token) });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('docker-content-digest'), pub.layers[0]!.digest);
    });

    it('start a plain upload, with no hint, when the source is private to the caller or missing', async () => {
      const token = await tokenFor(server.url, bob, ['repository:bob/app:pull,push', 'repository:alice/private:pull', 'repository:alice/missing:pull']);
      const answers = [];
      for (const from of ['alice/private', 'alice/missing']) {
        const res = await fetch(mount('bob/app', priv.layers[0]!.digest, from), { method: 'POST', headers: bearer(token) });
        assert.equal(res.status, 202, from);
        assert.match(res.headers.get('location') ?? '', /^\/v2\/bob\/app\/blobs\/uploads\/[^/]+$/);
        assert.equal(res.headers.get('docker-content-digest'), null);
        answers.push([...res.headers.keys()].sort().join(','));
      }
      assert.equal(answers[0], answers[1]);
      const head = await fetch(url(`/v2/bob/app/blobs/${priv.layers[0]!.digest}`), { method: 'HEAD', headers: bearer(token) });
      assert.equal(head.status, 404, 'nothing was linked');
    });

    it('without `from`, mount only a blob held by a repository the caller may pull (automatic discovery)', async () => {
      const token = await tokenFor(server.url, bob, ['repository:bob/app:pull,push']);
      const hidden = await fetch(mount('bob/app', priv.config.digest), { method: 'POST', headers: bearer(token) });
      assert.equal(hidden.status, 202, 'a blob only a private repository holds: a plain upload, no hint');
      assert.equal(hidden.headers.get('docker-content-digest'), null);
      await hidden.arrayBuffer();
      const visible = await fetch(mount('bob/app', pub.config.digest), { method: 'POST', headers: bearer(token) });
      assert.equal(visible.status, 201, 'a blob a public repository holds');
      assert.equal(visible.headers.get('docker-content-digest'), pub.config.digest);
      await visible.arrayBuffer();
    });

    it('still need push on the target, and name both repositories when refused', async () => {
      const token = await tokenFor(server.url, bob, ['repository:alice/app:pull,push', 'repository:alice/public:pull']);
      const res = await fetch(mount('alice/app', pub.layers[0]!.digest, 'alice/public'), { method: 'POST', headers: bearer(token) });
      assert.equal(res.status, 401);
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer realm="${realm}",service="pier",scope="repository:alice/app:pull,push repository:alice/public:pull",error="insufficient_scope"`,
      );
      await res.arrayBuffer();
    });
  });

  describe('catalog', () => {
    const names = ['alice/c1', 'alice/c2', 'alice/c3', 'bob/c1', 'bob/c2'];
    const hidden = new Set(['alice/c2', 'bob/c1']);

    before(async () => {
      const admin = await tokenFor(server.url, root, names.map((n) => `repository:${n}:pull,push`));
      for (const name of names) await pushBlob(server.url, name, randomBytes(16), { token: admin });
      for (const name of hidden) await server.hub.repositories.setVisibility(name, true);
    });

    async function catalogAs(login: Login | undefined, query = ''): Promise<{ names: string[]; link: string | null; status: number }> {
      const token = await tokenFor(server.url, login, ['registry:catalog:*']);
      const res = await fetch(url(`/v2/_catalog${query}`), { headers: bearer(token) });
      const body = (await res.json()) as { repositories: string[] };
      return { names: body.repositories, link: res.headers.get('link'), status: res.status };
    }

    /** Follows Link headers to the end. */
    async function allPages(login: Login | undefined, n: number): Promise<string[][]> {
      const pages: string[][] = [];
      let query = `?n=${n}`;
      for (;;) {
        const page = await catalogAs(login, query);
        pages.push(page.names);
        if (!page.link) return pages;
        query = /<\/v2\/_catalog(\?[^>]+)>/.exec(page.link)![1]!;
        assert.ok(pages.length < 20);
      }
    }

    it('lists public repositories, the caller\'s own, and everything for an administrator', async () => {
      const ours = (list: string[]) => list.filter((n) => names.includes(n));
      assert.deepEqual(ours((await catalogAs(undefined)).names), ['alice/c1', 'alice/c3', 'bob/c2']);
      assert.deepEqual(ours((await catalogAs(bob)).names), ['alice/c1', 'alice/c3', 'bob/c1', 'bob/c2']);
      assert.deepEqual(ours((await catalogAs(alice)).names), ['alice/c1', 'alice/c2', 'alice/c3', 'bob/c2']);
      assert.deepEqual(ours((await catalogAs(root)).names), names);
      assert.ok(!(await catalogAs(undefined)).names.includes('alice/private'));
      assert.ok((await catalogAs(alice)).names.includes('alice/private'));
    });

    it('keeps pagination right around hidden repositories', async () => {
      const everything = (await catalogAs(undefined)).names;
      assert.ok(!everything.some((n) => hidden.has(n) || n === 'alice/private'));
      for (const n of [1, 2, 3]) {
        const pages = await allPages(undefined, n);
        assert.deepEqual(pages.flat(), everything, `n=${n}`);
        for (const page of pages.slice(0, -1)) assert.equal(page.length, n);
        assert.ok(pages.at(-1)!.length >= 1 && pages.at(-1)!.length <= n, 'no empty last page');
      }
      const first = await catalogAs(undefined, '?n=1');
      assert.equal(first.link, `</v2/_catalog?n=1&last=${encodeURIComponent(everything[0]!)}>; rel="next"`);
    });
  });
});
