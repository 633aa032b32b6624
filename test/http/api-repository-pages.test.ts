// The repository pages of /api/v1 over HTTP, on SQLite and PostgreSQL: a namespace and its
// repositories, a repository with its README, PATCH and DELETE, tags with platforms and images,
// stars, pull history, categories, search and suggestions, in Docker Hub's shapes and paged as
// {count, next, previous, results}. (Every answer is also checked against the OpenAPI document
// by the test server.) The permission matrix is api-repository-matrix.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RepositoryName } from '../../src/oci/names.js';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { CookieBrowser } from '../support/cookie-browser.js';
import { makeImage, pushImage } from '../support/images.js';
import { jsonBytes, MT } from '../support/oci.js';
import { testBackends } from '../support/server.js';

const alice: [string, string] = ['alice', PASSWORD];
const bob: [string, string] = ['bob', PASSWORD];
const root: [string, string] = ['boss', PASSWORD];

interface Paged<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}
type Repository = Record<string, unknown> & { namespace: string; name: string };

for (const { backend, options } of await testBackends()) {
  describe(`/api/v1 repository pages (${backend})`, options, () => {
    let server: ApiServer;
    const get = async <T = Record<string, unknown>>(path: string, auth?: [string, string], status = 200) => expectJson<T>(await server.api(path, auth ? { auth: { basic: auth } } : {}), status);

    before(async () => {
      server = await startApiServer({}, { backend });
      await createUser(server, 'alice');
      await createUser(server, 'bob');
      await createUser(server, 'boss', { admin: true });
      await server.hub.plans.apply('alice', 'pro');
      const image = (architecture: string, layers: number) => makeImage({ layers, layerBytes: 2000, platform: { architecture, os: 'linux' } });
      const amd64 = image('amd64', 2);
      const arm64 = image('arm64', 1);
      for (const child of [amd64, arm64]) await pushImage(server.registry, 'alice/web', child.digest, { image: child });
      const index = jsonBytes({ schemaVersion: 2, mediaType: MT.OciIndex, manifests: [amd64.descriptor, arm64.descriptor] });
      await server.registry.manifests.put('alice/web' as RepositoryName, 'latest', index, MT.OciIndex, [], { account: 'alice' });
      await pushImage(server.registry, 'alice/web', 'v1');
      await pushImage(server.registry, 'alice/secret', 'v1');
      await server.hub.repositories.setVisibility('alice/secret', true);
      await pushImage(server.registry, 'library/nginx', 'latest');
      (server as unknown as { sizes: number[] }).sizes = [amd64, arm64].map((i) => i.config.size + i.layers.reduce((s, l) => s + l.size, 0));
    });
    after(() => server?.stop());

    it('shows a namespace, and lists its repositories paged, ordered and filtered, only what the caller may see', async () => {
      assert.deepEqual(await get('/namespaces/alice'), { name: 'alice', kind: 'user', is_official: false, is_verified_publisher: false, date_joined: (await get<{ date_joined: string }>('/namespaces/alice')).date_joined });
      assert.equal((await get<{ is_official: boolean; kind: string }>('/namespaces/library')).is_official, true);
      await expectProblem(await server.api('/namespaces/nobody'), 404, /nobody/, 'not-found');
      const anonymous = await get<Paged<Repository>>('/namespaces/alice/repositories');
      assert.deepEqual([anonymous.count, anonymous.results.map((r) => r.name)], [1, ['web']]);
      const own = await get<Paged<Repository>>('/namespaces/alice/repositories?page_size=1&ordering=-name', alice);
      assert.deepEqual([own.count, own.results.map((r) => r.name), own.next, own.previous], [2, ['web'], '/api/v1/namespaces/alice/repositories?page_size=1&ordering=-name&page=2', null]);
      assert.deepEqual((await get<Paged<Repository>>('/namespaces/alice/repositories?name=SEC', alice)).results.map((r) => r.name), ['secret']);
      await expectProblem(await server.api('/namespaces/alice/repositories?ordering=stars'), 400, /ordering/, 'validation');
    });

    it('shows a repository in Docker Hub\'s shape, with what it holds and its README', async () => {
      const web = await get<Record<string, unknown>>('/repositories/alice/web', bob);
      const sizes = (server as unknown as { sizes: number[] }).sizes;
      assert.equal(web.namespace, 'alice');
      assert.equal(web.name, 'web');
      assert.equal(web.repository_type, 'image');
      assert.deepEqual(web.content_types, ['image', 'index']);
      assert.deepEqual(web.media_types, [MT.OciIndex, MT.OciManifest]);
      assert.ok((web.storage_size as number) > sizes[0]! + sizes[1]!);
      assert.deepEqual([web.is_private, web.is_official, web.star_count, web.full_description, web.readme_source], [false, false, 0, '', null]);
      assert.deepEqual(web.permissions, { read: true, write: false, admin: false });
      assert.deepEqual((await get<Record<string, unknown>>('/repositories/alice/web', alice)).permissions, { read: true, write: true, admin: true });
      assert.equal((await get<Record<string, unknown>>('/repositories/library/nginx')).is_official, true);
    });

    it('changes descriptions, README, categories and visibility with PATCH; refuses what is too long or unknown, naming the field', async () => {
      const patched = await expectJson<Record<string, unknown>>(
        await server.api('/repositories/alice/web', { method: 'PATCH', auth: { basic: alice }, json: { description: 'A web server', full_description: '# Web\n', categories: ['web-servers'] } }),
        200,
      );
      assert.deepEqual([patched.description, patched.full_description, patched.readme_source, patched.categories], ['A web server', '# Web\n', 'full_description', [{ slug: 'web-servers', name: 'Web Servers' }]]);
      const long = await expectProblem(await server.api('/repositories/alice/web', { method: 'PATCH', auth: { basic: alice }, json: { description: 'x'.repeat(101) } }), 400, /100/, 'validation');
      assert.deepEqual(long.errors?.map((e) => e.field), ['description']);
      const unknown = await expectProblem(await server.api('/repositories/alice/web', { method: 'PATCH', auth: { basic: alice }, json: { categories: ['nope'], is_private: true } }), 400, /nope/, 'validation');
      assert.deepEqual(unknown.errors?.map((e) => e.field), ['categories']);
      assert.equal((await get<Record<string, unknown>>('/repositories/alice/web')).is_private, false, 'a refused PATCH changes nothing');
      await expectProblem(await server.api('/repositories/alice/web', { method: 'PATCH', auth: { basic: alice }, json: {} }), 400, /nothing to change/, 'validation');
      await expectProblem(await server.api('/repositories/alice/web', { method: 'PATCH', auth: { basic: bob }, json: { description: 'mine now' } }), 403, undefined, 'forbidden');
      await expectProblem(await server.api('/repositories/alice/secret', { method: 'PATCH', auth: { basic: bob }, json: { description: 'mine now' } }), 404, undefined, 'not-found');
    });

    it('lists tags with every platform of a multi-arch index and its size, and a tag\'s images layer by layer', async () => {
      const sizes = (server as unknown as { sizes: number[] }).sizes;
      const tags = await get<Paged<Record<string, unknown> & { images: Array<Record<string, unknown>> }>>('/repositories/alice/web/tags?ordering=name');
      assert.deepEqual(tags.results.map((t) => t.name), ['latest', 'v1']);
      const latest = tags.results[0]!;
      assert.deepEqual([latest.content_type, latest.media_type, latest.full_size, latest.last_updater_username, latest.tag_status], ['index', MT.OciIndex, sizes[0]! + sizes[1]!, 'alice', 'active']);
      assert.deepEqual(latest.images.map((i) => [i.architecture, i.os, i.size]), [['amd64', 'linux', sizes[0]], ['arm64', 'linux', sizes[1]]]);
      assert.deepEqual((await get<Record<string, unknown>>('/repositories/alice/web/tags/v1')).last_updater_username, 'test');
      const images = await get<Array<Record<string, unknown> & { layers: unknown[] }>>('/repositories/alice/web/tags/latest/images');
      assert.deepEqual(images.map((i) => [i.architecture, i.layers.length]), [['amd64', 2], ['arm64', 1]]);
      assert.deepEqual((images[0]!.layers[0] as Record<string, unknown>).instruction, 'pier test');
      await expectProblem(await server.api('/repositories/alice/web/tags/nope'), 404, /nope/, 'not-found');
      const filtered = await get<Paged<Record<string, unknown>>>('/repositories/alice/web/tags?name=v&page_size=1');
      assert.deepEqual([filtered.count, filtered.results.map((t) => t.name), filtered.next], [1, ['v1'], null]);
    });

    it('deletes a tag with delete permission, and a repository with admin permission (a browser confirms)', async () => {
      await pushImage(server.registry, 'alice/temp', 'one');
      await pushImage(server.registry, 'alice/temp', 'two');
      await expectProblem(await server.api('/repositories/alice/temp/tags/one', { method: 'DELETE', auth: { basic: bob } }), 403, undefined, 'forbidden');
      assert.equal((await server.api('/repositories/alice/temp/tags/one', { method: 'DELETE', auth: { basic: alice } })).status, 204);
      await expectProblem(await server.api('/repositories/alice/temp/tags/one', { method: 'DELETE', auth: { basic: alice } }), 404, undefined, 'not-found');
      assert.deepEqual((await get<Paged<{ name: string }>>('/repositories/alice/temp/tags')).results.map((t) => t.name), ['two']);

      const browser = new CookieBrowser(server.url);
      await browser.signIn('alice');
      await expectProblem(await browser.api('/repositories/alice/temp', { method: 'DELETE' }), 400, /confirm/, 'validation');
      await expectProblem(await browser.api('/repositories/alice/temp', { method: 'DELETE', json: { confirm: 'alice/temp' } }), 400, /password/, 'validation');
      assert.equal((await browser.api('/repositories/alice/temp', { method: 'DELETE', json: { confirm: 'alice/temp', password: PASSWORD } })).status, 204);
      await expectProblem(await server.api('/repositories/alice/temp'), 404, undefined, 'not-found');
      const res = await fetch(`${server.url}/v2/alice/temp/tags/list`);
      assert.notEqual(res.status, 200, 'the registry forgot it too');
      await pushImage(server.registry, 'alice/temp2', 'one');
      assert.equal((await server.api('/repositories/alice/temp2', { method: 'DELETE', auth: { basic: alice } })).status, 204, 'Basic callers need no confirmation');
    });

    it('stars and unstars; lists what a user starred, as far as the caller may see', async () => {
      assert.equal((await server.api('/repositories/alice/web/star', { method: 'PUT', auth: { basic: bob } })).status, 204);
      assert.equal((await server.api('/repositories/alice/web/star', { method: 'PUT', auth: { basic: bob } })).status, 204);
      assert.equal((await server.api('/repositories/alice/secret/star', { method: 'PUT', auth: { basic: alice } })).status, 204);
      await expectProblem(await server.api('/repositories/alice/secret/star', { method: 'PUT', auth: { basic: bob } }), 404, undefined, 'not-found');
      await expectProblem(await server.api('/repositories/alice/web/star', { method: 'PUT' }), 401, undefined, 'unauthorized');
      const web = await get<Record<string, unknown>>('/repositories/alice/web', bob);
      assert.deepEqual([web.star_count, web.is_starred], [1, true]);
      assert.deepEqual((await get<Paged<Repository>>('/users/bob/starred')).results.map((r) => `${r.namespace}/${r.name}`), ['alice/web']);
      assert.deepEqual((await get<Paged<Repository>>('/users/me/starred', alice)).results.map((r) => r.name), ['secret']);
      assert.equal((await get<Paged<Repository>>('/users/alice/starred', bob)).count, 0, 'a private star is as invisible as its repository');
      await expectProblem(await server.api('/users/nobody/starred'), 404, undefined, 'not-found');
      assert.equal((await server.api('/repositories/alice/web/star', { method: 'DELETE', auth: { basic: bob } })).status, 204);
      assert.equal((await get<Record<string, unknown>>('/repositories/alice/web')).star_count, 0);
    });

    it('answers the pull history by day, zeros included', async () => {
      for (let i = 0; i < 3; i++) await server.registry.manifests.get('library/nginx' as RepositoryName, 'latest', undefined, { actor: {} });
      await server.hub.pullStats.flush();
      const history = await get<{ days: number; results: Array<{ date: string; pulls: number }> }>('/repositories/library/nginx/pulls?days=3');
      assert.equal(history.days, 3);
      assert.deepEqual(history.results.map((d) => d.pulls), [0, 0, 3]);
      assert.equal(history.results[2]!.date, new Date(Date.now()).toISOString().slice(0, 10));
      assert.equal((await get<{ results: unknown[] }>('/repositories/library/nginx/pulls')).results.length, 30);
      await expectProblem(await server.api('/repositories/library/nginx/pulls?days=1000'), 400, /days/, 'validation');
    });

    it('keeps categories: anyone reads them, administrators change them', async () => {
      const list = await get<Array<{ slug: string }>>('/categories');
      assert.ok(list.some((c) => c.slug === 'web-servers'));
      await expectProblem(await server.api('/categories', { method: 'POST', auth: { basic: alice }, json: { slug: 'games', name: 'Games' } }), 403, undefined, 'forbidden');
      assert.deepEqual(await expectJson(await server.api('/categories', { method: 'POST', auth: { basic: root }, json: { slug: 'games', name: 'Games' } }), 201), { slug: 'games', name: 'Games', description: '' });
      await expectProblem(await server.api('/categories', { method: 'POST', auth: { basic: root }, json: { slug: 'games', name: 'Games' } }), 409, undefined, 'conflict');
      assert.equal((await server.api('/categories/games', { method: 'DELETE', auth: { basic: root } })).status, 204);
      await expectProblem(await server.api('/categories/games', { method: 'DELETE', auth: { basic: root } }), 404, undefined, 'not-found');
    });

    it('searches with filters and paging, and suggests names, showing only what the caller may see', async () => {
      const found = await get<Paged<Repository>>('/search?q=web');
      assert.deepEqual(found.results.map((r) => `${r.namespace}/${r.name}`), ['alice/web']);
      assert.equal((found.results[0] as Record<string, unknown>).full_description, undefined, 'a summary: no README');
      assert.equal((await get<Paged<Repository>>('/search?q=secret')).count, 0);
      assert.equal((await get<Paged<Repository>>('/search?q=secret', alice)).count, 1);
      assert.deepEqual((await get<Paged<Repository>>('/search?q=&is_official=true')).results.map((r) => r.name), ['nginx']);
      assert.deepEqual((await get<Paged<Repository>>('/search?category=web-servers')).results.map((r) => r.name), ['web']);
      const all = await get<Paged<Repository>>('/search?ordering=-pull_count&page_size=1');
      assert.deepEqual([all.results[0]!.name, all.next], ['nginx', '/api/v1/search?ordering=-pull_count&page_size=1&page=2']);
      await expectProblem(await server.api('/search?is_official=yes'), 400, /is_official/, 'validation');
      await expectProblem(await server.api('/search?type=chart'), 400, /type/, 'validation');
      assert.deepEqual(await get('/search/suggest?q=ngi'), { results: [{ namespace: 'library', name: 'nginx', is_official: true, is_verified_publisher: false }] });
      assert.deepEqual(await get('/search/suggest?q=alice/s'), { results: [] });
      assert.deepEqual((await get<{ results: Array<{ name: string }> }>('/search/suggest?q=alice/s', alice)).results.map((s) => s.name), ['secret']);
    });

    it('creates a repository before its first push, with its descriptions', async () => {
      const created = await expectJson<Record<string, unknown>>(
        await server.api('/namespaces/alice/repositories', { method: 'POST', auth: { basic: alice }, json: { name: 'fresh', is_private: true, description: 'New', full_description: '# Fresh' } }),
        201,
      );
      assert.deepEqual([created.name, created.is_private, created.description, created.full_description, created.repository_type, created.last_updated], ['fresh', true, 'New', '# Fresh', null, null]);
      await expectProblem(await server.api('/namespaces/alice/repositories', { method: 'POST', auth: { basic: alice }, json: { name: 'fresh' } }), 409, undefined, 'conflict');
      await expectProblem(await server.api('/namespaces/alice/repositories', { method: 'POST', auth: { basic: alice }, json: { name: 'long', description: 'y'.repeat(101) } }), 400, undefined, 'validation');
    });

    it('names a repository of several components with %2F', async () => {
      await pushImage(server.registry, 'alice/team/app', 'v1');
      const repository = await get<Repository>('/repositories/alice/team%2Fapp');
      assert.deepEqual([repository.namespace, repository.name], ['alice', 'team/app']);
      assert.deepEqual((await get<Paged<{ name: string }>>('/repositories/alice/team%2Fapp/tags')).results.map((t) => t.name), ['v1']);
      await expectProblem(await server.api('/repositories/alice/Not%20Valid'), 400, undefined, 'validation');
    });
  });
}
