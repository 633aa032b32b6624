import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, signIn, startApiServer, type ApiServer } from '../support/api.js';
import { pushImage } from '../support/images.js';
import { basic, tokenFor } from '../support/auth.js';

interface SearchPage {
  query: string;
  num_results: number;
  num_pages: number;
  page: number;
  page_size: number;
  results: Array<{ name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean; is_verified_publisher: boolean }>;
}

describe('/v1/search (docker search)', () => {
  let server: ApiServer;
  const alice = { username: 'alice', secret: PASSWORD };
  const bob = { username: 'bob', secret: PASSWORD };

  before(async () => {
    server = await startApiServer();
    await createUser(server, 'alice');
    await server.hub.plans.apply('alice', 'pro');
    await createUser(server, 'bob');
    await server.hub.organizations.create('acme', 'bob');
    await server.hub.organizations.setVerifiedPublisher('acme', true);
    for (const name of ['alice/webapp', 'alice/secret-web', 'library/web', 'library/nginx', 'acme/web-tools', 'bob/other']) await pushImage(server.registry, name, 'latest');
    await server.hub.repositories.setVisibility('alice/secret-web', true);
    await server.hub.repositories.describe('alice/webapp', { description: 'A web application' });
    await server.hub.stars.star('bob', 'alice/webapp');
  });
  after(() => server.stop());

  async function search(query: string, headers: Record<string, string> = {}): Promise<SearchPage> {
    return expectJson<SearchPage>(await fetch(`${server.url}/v1/search?${query}`, { headers }), 200);
  }

  it('answers in Docker Hub\'s shape: official images by their short name, exact match first, then official, then by name', async () => {
    const page = await search('q=web');
    assert.deepEqual(page.results.map((r) => r.name), ['web', 'acme/web-tools', 'alice/webapp']);
    assert.deepEqual(page.results[0], { name: 'web', description: '', star_count: 0, is_official: true, is_automated: false, is_verified_publisher: false });
    assert.deepEqual(page.results[1], { name: 'acme/web-tools', description: '', star_count: 0, is_official: false, is_automated: false, is_verified_publisher: true });
    assert.deepEqual(page.results[2], { name: 'alice/webapp', description: 'A web application', star_count: 1, is_official: false, is_automated: false, is_verified_publisher: false });
    assert.deepEqual({ ...page, results: [] }, { query: 'web', num_results: 3, num_pages: 1, page: 1, page_size: 25, results: [] });
  });

  it('matches words of namespace/repo as prefixes, case-insensitively; % and _ match nothing', async () => {
    assert.deepEqual((await search('q=NGIN')).results.map((r) => r.name), ['nginx']);
    assert.deepEqual((await search('q=alice%2Fweb')).results.map((r) => r.name), ['alice/webapp']);
    assert.equal((await search('q=library%2Fnginx')).results[0]?.is_official, true);
    assert.equal((await search('q=%25')).num_results, 0);
    assert.equal((await search('q=_')).num_results, 0);
    assert.equal((await search('q=nothing-like-this')).num_results, 0);
  });

  it('hides private repositories from anonymous callers and others, shows them to who may pull', async () => {
    assert.ok(!(await search('q=secret')).results.length);
    assert.ok(!(await search('q=secret', { authorization: basic(bob) })).results.length);
    const expected = ['alice/secret-web'];
    assert.deepEqual((await search('q=secret', { authorization: basic(alice) })).results.map((r) => r.name), expected);
    const session = await signIn(server, 'alice');
    assert.deepEqual((await search('q=secret', { authorization: `Bearer ${session}` })).results.map((r) => r.name), expected);
    const { token: pat } = await server.hub.tokens.createPersonalAccessToken('alice', { label: 'ci', scopes: ['repo:read'] });
    assert.deepEqual((await search('q=secret', { authorization: `Bearer ${pat}` })).results.map((r) => r.name), expected);
    assert.deepEqual((await search('q=secret', { authorization: basic({ username: 'alice', secret: pat }) })).results.map((r) => r.name), expected);
    // the registry token the docker daemon sends when it holds an identity token
    const registryToken = await tokenFor(server.url, alice, ['registry:catalog:search']);
    assert.deepEqual((await search('q=secret', { authorization: `Bearer ${registryToken}` })).results.map((r) => r.name), expected);
    const anonymousToken = await tokenFor(server.url, undefined, ['registry:catalog:search']);
    assert.equal((await search('q=secret', { authorization: `Bearer ${anonymousToken}` })).num_results, 0);
    assert.equal((await search('q=web', { authorization: basic(alice) })).num_results, 4);
  });

  it('shows nothing to anonymous callers when pulling needs an account', async () => {
    await server.hub.settings.set('pullRequiresLogin', true);
    try {
      assert.equal((await search('q=web')).num_results, 0);
      assert.equal((await search('q=web', { authorization: basic(bob) })).num_results, 3);
    } finally {
      await server.hub.settings.set('pullRequiresLogin', false);
    }
  });

  it('pages with n and page; n is capped at 100', async () => {
    const first = await search('q=web&n=2');
    assert.deepEqual(first.results.map((r) => r.name), ['web', 'acme/web-tools']);
    assert.deepEqual([first.num_results, first.num_pages, first.page, first.page_size], [3, 2, 1, 2]);
    const second = await search('q=web&n=2&page=2');
    assert.deepEqual(second.results.map((r) => r.name), ['alice/webapp']);
    assert.deepEqual((await search('q=web&n=2&page=3')).results, []);
    assert.equal((await search('q=web&n=1000')).page_size, 100);
  });

  it('refuses a missing query, bad paging and bad credentials as problem+json', async () => {
    await expectProblem(await fetch(`${server.url}/v1/search`), 400, /q/);
    await expectProblem(await fetch(`${server.url}/v1/search?q=%20`), 400);
    await expectProblem(await fetch(`${server.url}/v1/search?q=web&n=0`), 400, /n/);
    await expectProblem(await fetch(`${server.url}/v1/search?q=web&n=abc`), 400);
    await expectProblem(await fetch(`${server.url}/v1/search?q=web&page=-1`), 400, /page/);
    await expectProblem(await fetch(`${server.url}/v1/search?q=web`, { headers: { authorization: basic({ username: 'alice', secret: 'wrong password' }) } }), 401);
    await expectProblem(await fetch(`${server.url}/v1/search?q=web`, { headers: { authorization: 'Bearer not.a.token' } }), 401);
  });

  it('answers the daemon\'s /v1/_ping', async () => {
    assert.deepEqual(await expectJson(await fetch(`${server.url}/v1/_ping`), 200), { standalone: true });
  });
});
