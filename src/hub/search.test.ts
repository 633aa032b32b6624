// Search and suggestions on SQLite (FTS5) and PostgreSQL (tsvector + GIN): ranking, filters,
// orderings and paging inside the query, and a private repository found only by who may see it.
// The SQL visibility predicate gives the access policy's answer for every kind of subject.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Subject } from '../auth/access-policy.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import type { RepositoryName } from '../oci/names.js';
import { openPagesFixture, pushTestChart, pushTestImage, type PagesFixture } from './pages.testing.js';
import type { SearchRequest } from './search.js';

const anonymous: Subject = { kind: 'anonymous' };
const user = (name: string, extra: Partial<Extract<Subject, { kind: 'account' }>> = {}): Subject => ({ kind: 'account', name, admin: false, ...extra });
const admin = user('root', { admin: true });

for (const database of await testDatabases()) {
  describe(`search: ${database.name}`, database.options, () => {
    let f: PagesFixture;

    before(async () => {
      f = await openPagesFixture(database.open);
      const { hub, registry } = f;
      for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) await hub.accounts.create({ name, password: `${name} password 1` });
      await hub.plans.apply('alice', 'pro');
      await hub.organizations.create('acme', 'carol');
      await hub.organizations.setVerifiedPublisher('acme', true);
      await hub.plans.apply('acme', 'team');
      await hub.organizations.addMember('acme', 'dave');
      await hub.organizations.addMember('acme', 'erin');
      await hub.teams.create('acme', 'readers');
      await hub.teams.addMember('acme', 'readers', 'dave');
      await hub.teams.setPermission('acme', 'readers', 'acme/internal-nginx', 'read');
      await hub.teams.create('acme', 'everything');
      await hub.teams.addMember('acme', 'everything', 'erin');
      await hub.teams.setPermission('acme', 'everything', '*', 'write');

      const repositories: Array<[string, string, number]> = [
        // name, description, pulls
        ['library/nginx', 'Official build of Nginx.', 50],
        ['bob/nginx', 'my nginx', 1],
        ['acme/nginx-proxy', 'Automated nginx reverse proxy', 20],
        ['carol/webapp', 'A web application served by nginx', 5],
        ['carol/webapp-popular', 'A web application served by nginx', 500],
        ['alice/secret-nginx', 'private nginx of alice', 0],
        ['acme/internal-nginx', 'private nginx of acme', 0],
        ['acme/other-secret', 'private, no grant', 0],
        ['dave/tools', 'debugging tools', 3],
        ['library/postgres', 'The PostgreSQL database', 40],
      ];
      for (const [name, description, pulls] of repositories) {
        await pushTestImage(registry, name, 'latest');
        await hub.repositories.describe(name, { description });
        for (let i = 0; i < pulls; i++) registry.manifests.get(name as RepositoryName, 'latest', undefined, { actor: {} }).catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      await hub.pullStats.flush();
      f.advance(1000);
      await pushTestChart(registry, 'bob/nginx-chart', '1.0.0');
      await hub.repositories.create('dave/empty', false);
      for (const name of ['alice/secret-nginx', 'acme/internal-nginx', 'acme/other-secret']) await hub.repositories.setVisibility(name, true);
      await hub.categories.set('dave/tools', ['developer-tools']);
      await hub.categories.set('library/nginx', ['web-servers']);
      await hub.stars.star('alice', 'bob/nginx');
      await hub.stars.star('carol', 'bob/nginx');
      await hub.stars.star('alice', 'dave/tools');
    });
    after(() => f?.close());

    const names = async (subject: Subject, request: Partial<SearchRequest> = {}) => {
      const found = await f.hub.search.search(subject, { query: '', page: 1, pageSize: 25, ...request });
      return found.results.map((r) => r.fullName);
    };
    const count = async (subject: Subject, request: Partial<SearchRequest> = {}) => (await f.hub.search.search(subject, { query: '', page: 1, pageSize: 25, ...request })).count;

    it('ranks the exact name first, then official images, verified publishers, then relevance raised by pulls', async () => {
      assert.deepEqual(await names(anonymous, { query: 'nginx' }), [
        'library/nginx', // exact and official
        'bob/nginx', // exact
        'acme/nginx-proxy', // verified publisher
        'bob/nginx-chart', // the name matches
        'carol/webapp-popular', // the description only; 100 times more pulls than its twin
        'carol/webapp',
      ]);
      const hit = (await f.hub.search.search(anonymous, { query: 'nginx', page: 1, pageSize: 1 })).results[0]!;
      assert.deepEqual([hit.fullName, hit.isOfficial, hit.description, hit.pullCount], ['library/nginx', true, 'Official build of Nginx.', 50]);
    });

    it('matches every word as a prefix, over names, namespaces, descriptions and categories', async () => {
      assert.deepEqual(await names(anonymous, { query: 'NGI prox' }), ['acme/nginx-proxy']);
      assert.deepEqual(await names(anonymous, { query: 'acme/nginx' }), ['acme/nginx-proxy']);
      assert.deepEqual(await names(anonymous, { query: 'postgresql' }), ['library/postgres'], 'the description');
      assert.deepEqual(await names(anonymous, { query: 'developer' }), ['dave/tools'], 'a category name');
      assert.deepEqual(await names(anonymous, { query: 'web-servers' }), ['library/nginx'], 'a category slug');
      assert.deepEqual((await names(anonymous, { query: 'library' })).sort(), ['library/nginx', 'library/postgres'], 'the namespace');
      for (const nothing of ['%', '_', '  ', 'ginx', 'zzz']) {
        if (nothing.trim() === '') continue;
        assert.equal(await count(anonymous, { query: nothing }), 0, nothing);
      }
    });

    it('filters in the query: official, verified publisher, category, images or artifacts', async () => {
      assert.deepEqual(await names(anonymous, { query: 'nginx', official: true }), ['library/nginx']);
      assert.deepEqual(await names(anonymous, { query: 'nginx', verifiedPublisher: true }), ['acme/nginx-proxy']);
      assert.deepEqual(await names(anonymous, { category: 'developer-tools' }), ['dave/tools']);
      assert.deepEqual(await names(anonymous, { query: 'nginx', type: 'artifact' }), ['bob/nginx-chart']);
      assert.equal(await count(anonymous, { query: 'nginx', type: 'image' }), 5);
      assert.equal(await count(anonymous, { query: 'nginx', official: true, verifiedPublisher: true }), 0);
    });

    it('lists everything visible without words (Explore), ordered by pulls, stars, last push or best', async () => {
      assert.equal(await count(anonymous), 9);
      assert.deepEqual((await names(anonymous, { ordering: '-pull_count' })).slice(0, 3), ['carol/webapp-popular', 'library/nginx', 'library/postgres']);
      assert.deepEqual((await names(anonymous, { ordering: '-star_count' })).slice(0, 2), ['bob/nginx', 'dave/tools']);
      const byPush = await names(anonymous, { ordering: '-last_updated' });
      assert.deepEqual([byPush[0], byPush.at(-1), byPush.length], ['bob/nginx-chart', 'dave/empty', 9], 'never pushed: last');
      assert.deepEqual((await names(anonymous, { ordering: 'best' })).slice(0, 3), ['library/nginx', 'library/postgres', 'acme/nginx-proxy']);
    });

    it('pages inside the query: counts and pages never include what the caller may not see', async () => {
      const first = await f.hub.search.search(anonymous, { query: 'nginx', page: 1, pageSize: 4 });
      const second = await f.hub.search.search(anonymous, { query: 'nginx', page: 2, pageSize: 4 });
      assert.deepEqual([first.count, first.results.length, second.count, second.results.length], [6, 4, 6, 2]);
      assert.deepEqual(await f.hub.search.search(anonymous, { query: 'nginx', page: 3, pageSize: 4 }), { count: 6, results: [] });
      for (const ordering of ['-pull_count', '-star_count', '-last_updated', 'best'] as const) {
        const all = await names(anonymous, { ordering, pageSize: 100 });
        assert.equal(all.length, 9);
        const paged = [];
        for (let p = 1; p <= 5; p++) paged.push(...(await names(anonymous, { ordering, page: p, pageSize: 2 })));
        assert.deepEqual(paged, all, `pages of ${ordering} without words`);
      }
    });

    it('finds a private repository only for who may see it', async () => {
      const privateHits = async (subject: Subject) => (await names(subject, { query: 'private' })).sort();
      assert.deepEqual(await privateHits(anonymous), []);
      assert.deepEqual(await privateHits(user('bob')), []);
      assert.deepEqual(await privateHits(user('alice')), ['alice/secret-nginx']);
      assert.deepEqual(await privateHits(user('alice', { tokenScopes: ['repo:read'] })), ['alice/secret-nginx']);
      assert.deepEqual(await privateHits(user('carol')), ['acme/internal-nginx', 'acme/other-secret'], 'an owner of the organisation');
      assert.deepEqual(await privateHits(user('dave')), ['acme/internal-nginx'], 'a team grant on one repository');
      assert.deepEqual(await privateHits(user('erin')), ['acme/internal-nginx', 'acme/other-secret'], 'a team grant on *');
      assert.deepEqual(await privateHits(user('acme', { tokenScopes: ['repo:read'], tokenRepositories: ['acme/other-secret'] })), ['acme/other-secret'], 'an organisation token limited to one');
      assert.deepEqual(await privateHits(admin), ['acme/internal-nginx', 'acme/other-secret', 'alice/secret-nginx']);
      const permissions = async (subject: Subject) =>
        Object.fromEntries((await f.hub.search.search(subject, { query: 'acme', page: 1, pageSize: 25 })).results.map((r) => [r.fullName, r.permissions]));
      const [read, write, all] = [{ read: true, write: false, admin: false }, { read: true, write: true, admin: false }, { read: true, write: true, admin: true }];
      assert.deepEqual(await permissions(user('dave')), { 'acme/nginx-proxy': read, 'acme/internal-nginx': read });
      assert.deepEqual(await permissions(user('erin')), { 'acme/nginx-proxy': write, 'acme/internal-nginx': write, 'acme/other-secret': write });
      assert.deepEqual(await permissions(user('carol')), { 'acme/nginx-proxy': all, 'acme/internal-nginx': all, 'acme/other-secret': all });
      assert.deepEqual(await permissions(user('carol', { tokenScopes: ['repo:write'] })), { 'acme/nginx-proxy': write, 'acme/internal-nginx': write, 'acme/other-secret': write });
      assert.deepEqual(await permissions(user('acme', { tokenScopes: ['repo:admin'], tokenRepositories: ['acme/other-secret'] })), { 'acme/nginx-proxy': read, 'acme/other-secret': all });
      assert.deepEqual(await permissions(anonymous), { 'acme/nginx-proxy': read });
      assert.deepEqual(await f.hub.search.suggest(anonymous, 'secret'), []);
      assert.deepEqual((await f.hub.search.suggest(user('alice'), 'secret')).map((s) => s.name), ['secret-nginx']);
    });

    it('shows nothing to anonymous callers when pulling needs an account', async () => {
      await f.hub.settings.set('pullRequiresLogin', true);
      try {
        assert.equal(await count(anonymous), 0);
        assert.deepEqual(await f.hub.search.suggest(anonymous, 'ngi'), []);
        assert.equal(await count(user('bob')), 9);
      } finally {
        await f.hub.settings.set('pullRequiresLogin', false);
      }
    });

    it('suggests names that start with what was typed: the exact name, then official, then the most pulled', async () => {
      assert.deepEqual(await f.hub.search.suggest(anonymous, 'ngi'), [
        { namespace: 'library', name: 'nginx', isOfficial: true, isVerifiedPublisher: false },
        { namespace: 'acme', name: 'nginx-proxy', isOfficial: false, isVerifiedPublisher: true },
        { namespace: 'bob', name: 'nginx', isOfficial: false, isVerifiedPublisher: false },
        { namespace: 'bob', name: 'nginx-chart', isOfficial: false, isVerifiedPublisher: false },
      ]);
      assert.deepEqual((await f.hub.search.suggest(anonymous, 'nginx')).map((s) => `${s.namespace}/${s.name}`).slice(0, 2), ['library/nginx', 'bob/nginx']);
      assert.deepEqual((await f.hub.search.suggest(anonymous, 'carol/web')).map((s) => s.name), ['webapp-popular', 'webapp']);
      assert.deepEqual(await f.hub.search.suggest(anonymous, 'Web%'), []);
      assert.deepEqual(await f.hub.search.suggest(anonymous, ''), []);
    });

    it('gives, in SQL, the access policy\'s answer of who may see what, for every kind of subject', async () => {
      const all = (await f.database.db.selectFrom('hub_repositories').select('name').orderBy('name').execute()).map((r) => r.name);
      const subjects: Subject[] = [
        anonymous,
        user('alice'),
        user('bob', { tokenScopes: ['repo:read'] }),
        user('carol'),
        user('dave'),
        user('erin'),
        user('acme'),
        user('acme', { tokenScopes: ['repo:write'], tokenRepositories: ['acme/internal-nginx'] }),
        user('acme', { tokenScopes: ['repo:read'], tokenRepositories: [] }),
        user('library'),
        admin,
      ];
      // and after a downgrade, when the organisation's teams give nothing
      for (const [pullRequiresLogin, plan] of [[false, 'team'], [true, 'team'], [false, 'free']] as const) {
        await f.hub.settings.set('pullRequiresLogin', pullRequiresLogin);
        await f.hub.plans.apply('acme', plan);
        for (const subject of subjects) {
          const visible = await f.hub.pages.visibility(subject);
          const inSql = (await f.database.db.selectFrom('hub_repositories as h').select('h.name').where(visible).orderBy('h.name').execute()).map((r) => r.name);
          const byPolicy: string[] = [];
          for (const name of all) if ((await f.hub.policy.allowed(subject, name)).has('pull')) byPolicy.push(name);
          assert.deepEqual(inSql, byPolicy, `${JSON.stringify(subject)}, pullRequiresLogin ${pullRequiresLogin}, acme on ${plan}`);
        }
      }
      await f.hub.settings.set('pullRequiresLogin', false);
      assert.deepEqual(await names(user('dave'), { query: 'private' }), [], 'a team read grant gives nothing on the free plan');
    });
  });
}
