// Repository pages on SQLite and PostgreSQL: what a push records for a page (platforms, sizes,
// history, who pushed), tags with their platforms, descriptions and the README fallback,
// categories, stars, pull history, namespace listings, deletion; and a private repository's
// page, README, tags and stars exactly as invisible as the repository.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Subject } from '../auth/access-policy.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { MediaType } from '../oci/media-types.js';
import type { RepositoryName } from '../oci/names.js';
import { HubError } from './errors.js';
import { openPagesFixture, pushTestChart, pushTestImage, pushTestIndex, type PagesFixture } from './pages.testing.js';

const kind = (k: string) => (e: unknown) => e instanceof HubError && e.kind === k;
const anonymous: Subject = { kind: 'anonymous' };
const user = (name: string, extra: Partial<Extract<Subject, { kind: 'account' }>> = {}): Subject => ({ kind: 'account', name, admin: false, ...extra });
const page = { page: 1, pageSize: 25 };
const DAY = 86_400_000;

for (const { name, open, options } of await testDatabases()) {
  describe(`repository pages: ${name}`, options, () => {
    const withFixture = (test: (f: PagesFixture) => Promise<void>) => async () => {
      const fixture = await openPagesFixture(open);
      try {
        await test(fixture);
      } finally {
        await fixture.close();
      }
    };

    it('records at push what a tag shows: platform, size, build steps, who pushed it', withFixture(async ({ hub, registry, clock }) => {
      const pushed = await pushTestImage(registry, 'alice/web', 'v1', {
        architecture: 'arm64',
        variant: 'v8',
        layers: [100, 200],
        history: [{ createdBy: 'ADD rootfs /' }, { createdBy: 'ENV A=1', empty: true }, { createdBy: 'RUN make' }, { createdBy: 'CMD ["web"]', empty: true }],
        created: '2026-01-02T03:04:05Z',
        account: 'alice',
      });
      const tag = await hub.tags.get(anonymous, 'alice/web', 'v1');
      assert.deepEqual(tag, {
        name: 'v1',
        digest: pushed.digest,
        mediaType: MediaType.OciManifest,
        contentType: 'image',
        fullSize: pushed.imageSize,
        lastPushedAt: clock.now(),
        lastPulledAt: null,
        pullCount: 0,
        lastUpdater: 'alice',
        status: 'active',
        images: [{ architecture: 'arm64', os: 'linux', variant: 'v8', digest: pushed.digest, size: pushed.imageSize, lastPushedAt: clock.now() }],
      });
      const [image] = await hub.tags.images(anonymous, 'alice/web', 'v1');
      assert.deepEqual(image, {
        architecture: 'arm64',
        os: 'linux',
        variant: 'v8',
        digest: pushed.digest,
        size: pushed.imageSize,
        configDigest: pushed.configDigest,
        created: Date.parse('2026-01-02T03:04:05Z'),
        layers: [
          { digest: pushed.layers[0]!.digest, size: 100, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', instruction: 'ADD rootfs /', emptyLayer: false },
          { digest: null, size: 0, mediaType: null, instruction: 'ENV A=1', emptyLayer: true },
          { digest: pushed.layers[1]!.digest, size: 200, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', instruction: 'RUN make', emptyLayer: false },
          { digest: null, size: 0, mediaType: null, instruction: 'CMD ["web"]', emptyLayer: true },
        ],
      });
    }));

    it("shows the images of an index of 33,001 platforms (more than SQLite binds in one statement)", withFixture(async ({ hub, registry, database }) => {
      const real = await pushTestImage(registry, 'alice/wide', undefined, { architecture: 'amd64', layers: [100] });
      const index = await pushTestIndex(registry, 'alice/wide', 'latest', [{ manifest: real, platform: { architecture: 'amd64', os: 'linux' } }], { account: 'alice' });
      // 33,000 more children written straight into the index, and the index's details listing them all
      const children = Array.from({ length: 33_000 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`);
      for (let i = 0; i < children.length; i += 500) {
        const batch = children.slice(i, i + 500);
        const content = Buffer.from('{}');
        await database.db
          .insertInto('manifests')
          .values(batch.map((digest) => ({ repository: 'alice/wide', digest, media_type: MediaType.OciManifest, size: 2, content, artifact_type: null, subject: null, annotations: null, created_at: 1 })))
          .execute();
        await database.db
          .insertInto('manifest_details')
          .values(batch.map((digest) => ({ repository: 'alice/wide', digest, content_type: 'image', size: 7, config_digest: null, os: 'linux', architecture: 'riscv64', variant: null, created: null, description: null, platforms: null, history: null })))
          .execute();
      }
      const platforms = [real.digest, ...children].map((digest, i) => ({ digest, os: 'linux', architecture: i === 0 ? 'amd64' : 'riscv64', size: 7, pushedAt: 1 }));
      await database.db.updateTable('manifest_details').set({ platforms: JSON.stringify(platforms) }).where('repository', '=', 'alice/wide').where('digest', '=', index.digest).execute();
      const images = await hub.tags.images(anonymous, 'alice/wide', 'latest');
      assert.equal(images.length, 33_001);
      assert.equal(images[0]!.digest, real.digest);
      assert.deepEqual([images[33_000]!.digest, images[33_000]!.architecture, images[33_000]!.size], [children[32_999], 'riscv64', 7]);
    }));

    it('shows every platform of a multi-arch index with its own size, and leaves attestations out', withFixture(async ({ hub, registry }) => {
      const amd64 = await pushTestImage(registry, 'alice/multi', undefined, { architecture: 'amd64', layers: [1000] });
      const arm = await pushTestImage(registry, 'alice/multi', undefined, { architecture: 'arm', variant: 'v7', layers: [700, 50] });
      const attestation = await pushTestImage(registry, 'alice/multi', undefined, { architecture: 'unknown', os: 'unknown', layers: [10] });
      const index = await pushTestIndex(registry, 'alice/multi', 'latest', [
        { manifest: amd64, platform: { architecture: 'amd64', os: 'linux' } },
        { manifest: arm, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
        { manifest: attestation, platform: { architecture: 'unknown', os: 'unknown' } },
      ], { account: 'alice' });
      const tag = await hub.tags.get(anonymous, 'alice/multi', 'latest');
      assert.equal(tag.digest, index.digest);
      assert.equal(tag.contentType, 'index');
      assert.equal(tag.mediaType, MediaType.OciIndex);
      assert.equal(tag.fullSize, amd64.imageSize + arm.imageSize);
      assert.deepEqual(
        tag.images.map((i) => [i.architecture, i.os, i.variant, i.digest, i.size]),
        [['amd64', 'linux', null, amd64.digest, amd64.imageSize], ['arm', 'linux', 'v7', arm.digest, arm.imageSize]],
      );
      const images = await hub.tags.images(anonymous, 'alice/multi', 'latest');
      assert.deepEqual(images.map((i) => [i.architecture, i.variant, i.digest, i.layers.map((l) => l.size)]), [
        ['amd64', null, amd64.digest, [1000]],
        ['arm', 'v7', arm.digest, [700, 50]],
      ]);
      const summary = await hub.pages.get(anonymous, 'alice/multi');
      assert.equal(summary.repositoryType, 'image');
      assert.deepEqual(summary.contentTypes, ['image', 'index']);
      assert.deepEqual(summary.mediaTypes, [MediaType.OciIndex, MediaType.OciManifest]);
      assert.equal(summary.storageSize, amd64.imageSize + arm.imageSize + attestation.imageSize);
    }));

    it('shows a Helm chart as an artifact, and a repository of charts as an artifact repository', withFixture(async ({ hub, registry }) => {
      const chart = await pushTestChart(registry, 'alice/charts', '1.0.0', 'alice');
      const tag = await hub.tags.get(anonymous, 'alice/charts', '1.0.0');
      assert.equal(tag.contentType, 'helm');
      assert.equal(tag.fullSize, chart.imageSize);
      assert.deepEqual(tag.images, [{ architecture: null, os: null, variant: null, digest: chart.digest, size: chart.imageSize, lastPushedAt: tag.lastPushedAt }]);
      const [image] = await hub.tags.images(anonymous, 'alice/charts', '1.0.0');
      assert.deepEqual(image!.layers, [{ digest: chart.layers[0]!.digest, size: 300, mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', instruction: null, emptyLayer: false }]);
      const repository = await hub.pages.get(anonymous, 'alice/charts');
      assert.equal(repository.repositoryType, 'artifact');
      assert.deepEqual(repository.contentTypes, ['helm']);
      // the chart's description annotation is its README until the repository has one
      assert.deepEqual([repository.fullDescription, repository.readmeSource], ['A demo chart', 'image']);
    }));

    it('computes at start the details of manifests pushed before Pier kept them', withFixture(async ({ hub, registry, database }) => {
      const amd64 = await pushTestImage(registry, 'alice/old', undefined, { architecture: 'amd64', labels: { 'org.opencontainers.image.description': 'old one' } });
      const arm = await pushTestImage(registry, 'alice/old', undefined, { architecture: 'arm64' });
      await pushTestIndex(registry, 'alice/old', 'latest', [
        { manifest: amd64, platform: { architecture: 'amd64', os: 'linux' } },
        { manifest: arm, platform: { architecture: 'arm64', os: 'linux' } },
      ]);
      await pushTestChart(registry, 'alice/old-chart', '1.0.0');
      const before = { tag: await hub.tags.get(anonymous, 'alice/old', 'latest'), images: await hub.tags.images(anonymous, 'alice/old', 'latest'), page: await hub.pages.get(anonymous, 'alice/old') };
      await database.db.deleteFrom('manifest_details').execute();
      const bare = await hub.tags.get(anonymous, 'alice/old', 'latest');
      assert.deepEqual([bare.contentType, bare.fullSize], ['index', 0], 'without details: the media type says what it can');
      assert.equal(await registry.manifests.backfillDetails({ batch: 2 }), 4);
      assert.deepEqual({ tag: await hub.tags.get(anonymous, 'alice/old', 'latest'), images: await hub.tags.images(anonymous, 'alice/old', 'latest'), page: await hub.pages.get(anonymous, 'alice/old') }, before);
      assert.equal((await hub.tags.get(anonymous, 'alice/old-chart', '1.0.0')).contentType, 'helm');
      assert.equal(await registry.manifests.backfillDetails(), 0, 'once');
      const stopped = new AbortController();
      stopped.abort();
      await database.db.deleteFrom('manifest_details').execute();
      assert.equal(await registry.manifests.backfillDetails({ signal: stopped.signal }), 0);
    }));

    it('lists tags paged, ordered by name or push time, filtered by name; a deleted tag is gone', withFixture(async ({ hub, registry, advance }) => {
      for (const tag of ['b-1', 'a-2', 'c-3', 'latest']) {
        await pushTestImage(registry, 'alice/app', tag, { account: tag === 'latest' ? undefined : 'alice' });
        advance(1000);
      }
      const names = async (options: Parameters<typeof hub.tags.list>[2]) => (await hub.tags.list(anonymous, 'alice/app', options)).results.map((t) => t.name);
      assert.deepEqual(await names(page), ['a-2', 'b-1', 'c-3', 'latest']);
      assert.deepEqual(await names({ ...page, ordering: '-last_pushed' }), ['latest', 'c-3', 'a-2', 'b-1']);
      assert.deepEqual(await names({ ...page, ordering: '-name' }), ['latest', 'c-3', 'b-1', 'a-2']);
      assert.deepEqual(await names({ ...page, name: '-' }), ['a-2', 'b-1', 'c-3']);
      assert.deepEqual(await names({ ...page, name: '_' }), [], 'LIKE characters are literal');
      const second = await hub.tags.list(anonymous, 'alice/app', { page: 2, pageSize: 3 });
      assert.deepEqual([second.count, second.results.map((t) => t.name)], [4, ['latest']]);
      assert.equal((await hub.tags.get(anonymous, 'alice/app', 'latest')).lastUpdater, null, 'pushed without an account');
      await registry.manifests.delete('alice/app' as RepositoryName, 'b-1', { account: 'alice' });
      await assert.rejects(hub.tags.get(anonymous, 'alice/app', 'b-1'), kind('not_found'));
      assert.equal((await hub.tags.list(anonymous, 'alice/app', page)).count, 3);
    }));

    it('marks a tag inactive after a month without push or pull', withFixture(async ({ hub, registry, advance }) => {
      await pushTestImage(registry, 'alice/old', 'v1');
      advance(31 * DAY);
      assert.equal((await hub.tags.get(anonymous, 'alice/old', 'v1')).status, 'inactive');
      await registry.manifests.get('alice/old' as RepositoryName, 'v1', undefined, { actor: {} });
      await hub.pullStats.flush();
      assert.equal((await hub.tags.get(anonymous, 'alice/old', 'v1')).status, 'active');
    }));

    it('keeps descriptions within their limits, and falls back to the image\'s description for the README', withFixture(async ({ hub, registry, advance }) => {
      await pushTestImage(registry, 'alice/web', 'v1', { labels: { 'org.opencontainers.image.description': 'from v1' } });
      advance(1000);
      await pushTestImage(registry, 'alice/web', 'v2', { labels: { 'org.opencontainers.image.description': 'from the label' }, annotations: { 'org.opencontainers.image.description': 'from the annotation' } });
      advance(1000);
      await pushTestImage(registry, 'alice/web', 'v3');
      let page1 = await hub.pages.get(anonymous, 'alice/web');
      assert.deepEqual([page1.fullDescription, page1.readmeSource], ['from the annotation', 'image'], 'the latest tag that has one; the annotation before the label');
      await pushTestImage(registry, 'alice/web', 'latest', { labels: { 'org.opencontainers.image.description': 'from latest' } });
      page1 = await hub.pages.get(anonymous, 'alice/web');
      assert.equal(page1.fullDescription, 'from latest', 'the tag named latest first');

      await hub.repositories.describe('alice/web', { description: 'A web server', fullDescription: '# Web\n\nRuns **fast**.' });
      page1 = await hub.pages.get(anonymous, 'alice/web');
      assert.deepEqual([page1.description, page1.fullDescription, page1.readmeSource], ['A web server', '# Web\n\nRuns **fast**.', 'full_description']);
      await hub.repositories.describe('alice/web', { description: 'é'.repeat(100), fullDescription: 'x'.repeat(25_000) });
      await assert.rejects(hub.repositories.describe('alice/web', { description: 'é'.repeat(101) }), kind('invalid'));
      await assert.rejects(hub.repositories.describe('alice/web', { description: 'two\nlines' }), kind('invalid'));
      await assert.rejects(hub.repositories.describe('alice/web', { fullDescription: 'é'.repeat(12_501) }), kind('invalid'), '25 KB counts bytes');
      await assert.rejects(hub.repositories.describe('nobody/here', { description: 'x' }), kind('not_found'));

      const empty = await hub.pages.get(anonymous, (await hub.repositories.create('alice/empty', false), 'alice/empty'));
      assert.deepEqual([empty.fullDescription, empty.readmeSource, empty.repositoryType, empty.lastUpdatedAt, empty.storageSize], ['', null, null, null, 0]);
    }));

    it('keeps categories from the administrators\' list, at most three per repository, in the search words', withFixture(async ({ hub, registry, database }) => {
      await pushTestImage(registry, 'alice/db', 'v1');
      assert.equal((await hub.categories.list()).length, 16);
      assert.deepEqual(await hub.categories.set('alice/db', ['databases-and-storage', 'developer-tools']), [
        { slug: 'databases-and-storage', name: 'Databases & Storage', description: 'Databases, caches and storage systems' },
        { slug: 'developer-tools', name: 'Developer Tools', description: 'Build, test and development tools' },
      ]);
      assert.deepEqual((await hub.pages.get(anonymous, 'alice/db')).categories, [
        { slug: 'databases-and-storage', name: 'Databases & Storage' },
        { slug: 'developer-tools', name: 'Developer Tools' },
      ]);
      await assert.rejects(hub.categories.set('alice/db', ['no-such-thing']), kind('invalid'));
      await assert.rejects(hub.categories.set('alice/db', ['security', 'networking', 'web-servers', 'data-science']), kind('invalid'));
      await assert.rejects(hub.categories.create({ slug: 'Bad Slug', name: 'x' }), kind('invalid'));
      await hub.categories.create({ slug: 'gaming', name: 'Gaming' });
      await assert.rejects(hub.categories.create({ slug: 'gaming', name: 'Again' }), kind('conflict'));
      await hub.categories.set('alice/db', ['gaming', 'developer-tools']);
      const words = async () => (await database.db.selectFrom('hub_repositories').select('categories').where('name', '=', 'alice/db').executeTakeFirstOrThrow()).categories;
      assert.equal(await words(), 'developer-tools Developer Tools gaming Gaming');
      await hub.categories.remove('gaming');
      assert.deepEqual((await hub.pages.get(anonymous, 'alice/db')).categories, [{ slug: 'developer-tools', name: 'Developer Tools' }]);
      assert.equal(await words(), 'developer-tools Developer Tools');
      await assert.rejects(hub.categories.remove('gaming'), kind('not_found'));
    }));

    it('counts stars once per account, lists what an account starred, and forgets the stars of a deleted account', withFixture(async ({ hub, registry, advance }) => {
      await hub.accounts.create({ name: 'bob', password: 'bob password 1' });
      for (const repository of ['alice/one', 'alice/two']) await pushTestImage(registry, repository, 'v1');
      await hub.stars.star('bob', 'alice/one');
      advance(1000);
      await hub.stars.star('bob', 'alice/two');
      await hub.stars.star('bob', 'alice/two');
      await hub.stars.star('carol', 'alice/two');
      const two = await hub.pages.get(user('bob'), 'alice/two');
      assert.deepEqual([two.starCount, two.isStarred], [2, true]);
      assert.equal((await hub.pages.get(user('alice'), 'alice/two')).isStarred, false);
      assert.equal((await hub.pages.get(anonymous, 'alice/two')).isStarred, false);
      const starred = await hub.pages.starred(anonymous, 'bob', page);
      assert.deepEqual([starred.count, starred.results.map((r) => r.fullName)], [2, ['alice/two', 'alice/one']], 'newest star first');
      await hub.stars.unstar('bob', 'alice/one');
      await hub.stars.unstar('bob', 'alice/one');
      assert.equal((await hub.pages.get(anonymous, 'alice/one')).starCount, 0);
      await hub.deleteAccount('bob', registry);
      assert.equal((await hub.pages.get(anonymous, 'alice/two')).starCount, 1);
      assert.equal((await hub.pages.starred(anonymous, 'bob', page)).count, 0);
    }));

    it('keeps pulls per day for the history chart, and the pull count a list sorts by', withFixture(async ({ hub, registry, advance }) => {
      await pushTestImage(registry, 'alice/pulled', 'v1');
      const pull = () => registry.manifests.get('alice/pulled' as RepositoryName, 'v1', undefined, { actor: {} });
      await pull();
      await pull();
      advance(DAY);
      await pull();
      await hub.pullStats.flush();
      advance(DAY);
      const history = await hub.pullStats.history('alice/pulled', 4);
      assert.deepEqual(history, [
        { date: '2026-01-14', pulls: 0 },
        { date: '2026-01-15', pulls: 2 },
        { date: '2026-01-16', pulls: 1 },
        { date: '2026-01-17', pulls: 0 },
      ]);
      const repository = await hub.pages.get(anonymous, 'alice/pulled');
      assert.equal(repository.pullCount, 3);
      assert.equal(repository.lastPulledAt, Date.UTC(2026, 0, 16, 12));
      assert.equal((await hub.tags.get(anonymous, 'alice/pulled', 'v1')).pullCount, 3);
    }));

    it('lists a namespace: paged, ordered by name, last push or pulls, filtered by name, only what the caller may see', withFixture(async ({ hub, registry, advance }) => {
      await hub.accounts.create({ name: 'alice', password: 'alice password 1' });
      await hub.plans.apply('alice', 'pro');
      for (const [repository, pulls] of [['alice/b-web', 3], ['alice/a-db', 1], ['alice/c-web', 2], ['alice/team/d', 0]] as const) {
        await pushTestImage(registry, repository, 'v1');
        for (let i = 0; i < pulls; i++) await registry.manifests.get(repository as RepositoryName, 'v1', undefined, { actor: {} });
        advance(1000);
      }
      await hub.pullStats.flush();
      await hub.repositories.create('alice/z-empty', false);
      await hub.repositories.setVisibility('alice/c-web', true);
      const list = async (subject: Subject, options: Partial<Parameters<typeof hub.pages.listNamespace>[2]> = {}) => {
        const found = await hub.pages.listNamespace(subject, 'alice', { ...page, ...options });
        return [found.count, found.results.map((r) => r.name)];
      };
      assert.deepEqual(await list(anonymous), [4, ['a-db', 'b-web', 'team/d', 'z-empty']]);
      assert.deepEqual(await list(user('alice')), [5, ['a-db', 'b-web', 'c-web', 'team/d', 'z-empty']]);
      assert.deepEqual(await list(user('alice'), { ordering: '-pull_count' }), [5, ['b-web', 'c-web', 'a-db', 'team/d', 'z-empty']]);
      assert.deepEqual(await list(user('alice'), { ordering: '-last_updated' }), [5, ['team/d', 'c-web', 'a-db', 'b-web', 'z-empty']], 'never pushed: last');
      assert.deepEqual(await list(user('alice'), { ordering: '-name', name: 'WEB' }), [2, ['c-web', 'b-web']]);
      assert.deepEqual(await list(user('alice'), { page: 2, pageSize: 2 }), [5, ['c-web', 'team/d']]);
      assert.deepEqual(await list(user('alice', { tokenScopes: ['repo:read'] }), { name: 'c-' }), [1, ['c-web']]);
      assert.deepEqual(await list(user('bob'), { name: 'c-' }), [0, []]);
      assert.deepEqual(await list(user('root', { admin: true }), { name: 'c-' }), [1, ['c-web']]);
      const [first] = (await hub.pages.listNamespace(user('alice', { tokenScopes: ['repo:read'] }), 'alice', page)).results;
      assert.deepEqual(first!.permissions, { read: true, write: false, admin: false }, 'a read-only token reads');
      const [mine] = (await hub.pages.listNamespace(user('alice'), 'alice', page)).results;
      assert.deepEqual(mine!.permissions, { read: true, write: true, admin: true });
      const [theirs] = (await hub.pages.listNamespace(anonymous, 'alice', page)).results;
      assert.deepEqual(theirs!.permissions, { read: true, write: false, admin: false });
    }));

    it('makes a private repository\'s page, README, tags and stars exactly as invisible as the repository', withFixture(async ({ hub, registry }) => {
      await hub.accounts.create({ name: 'alice', password: 'alice password 1' });
      await pushTestImage(registry, 'alice/secret', 'v1', { labels: { 'org.opencontainers.image.description': 'secret README' } });
      await hub.repositories.setVisibility('alice/secret', true);
      await hub.repositories.describe('alice/secret', { description: 'secret words' });
      await hub.stars.star('alice', 'alice/secret');
      for (const subject of [anonymous, user('bob'), user('acme', { tokenRepositories: ['acme/app'] })]) {
        const missing = await Promise.allSettled([hub.pages.get(subject, 'alice/nothing'), hub.tags.list(subject, 'alice/nothing', page), hub.tags.get(subject, 'alice/nothing', 'v1'), hub.tags.images(subject, 'alice/nothing', 'v1')]);
        const hidden = await Promise.allSettled([hub.pages.get(subject, 'alice/secret'), hub.tags.list(subject, 'alice/secret', page), hub.tags.get(subject, 'alice/secret', 'v1'), hub.tags.images(subject, 'alice/secret', 'v1')]);
        const reasons = (results: PromiseSettledResult<unknown>[]) =>
          results.map((r) => (r.status === 'rejected' && r.reason instanceof HubError ? `${r.reason.kind}: ${r.reason.message.replace('nothing', 'X').replace('secret', 'X')}` : r.status));
        assert.deepEqual(reasons(hidden), reasons(missing));
        assert.ok(reasons(hidden).every((r) => r.startsWith('not_found')));
        assert.deepEqual(await hub.pages.starred(subject, 'alice', page), { count: 0, results: [] });
      }
      for (const subject of [user('alice'), user('root', { admin: true })]) {
        const seen = await hub.pages.get(subject, 'alice/secret');
        assert.deepEqual([seen.isPrivate, seen.description, seen.fullDescription, seen.starCount], [true, 'secret words', 'secret README', 1]);
        assert.equal((await hub.tags.list(subject, 'alice/secret', page)).count, 1);
        assert.equal((await hub.pages.starred(subject, 'alice', page)).count, 1);
      }
    }));

    it('deletes a repository with its tags, stars, categories and pulls', withFixture(async ({ hub, registry, database }) => {
      await pushTestImage(registry, 'alice/gone', 'v1');
      await hub.stars.star('bob', 'alice/gone');
      await hub.categories.set('alice/gone', ['security']);
      await registry.manifests.get('alice/gone' as RepositoryName, 'v1', undefined, { actor: {} });
      await hub.pullStats.flush();
      await hub.deleteRepository('alice/gone', registry);
      await assert.rejects(hub.pages.get(anonymous, 'alice/gone'), kind('not_found'));
      await assert.rejects(hub.tags.list(anonymous, 'alice/gone', page), kind('not_found'));
      for (const table of ['stars', 'repository_categories', 'repository_pulls', 'tag_pulls', 'repository_pull_days', 'manifest_details', 'manifests', 'tags'] as const) {
        const rows = await database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(rows.n), 0, table);
      }
      await assert.rejects(hub.deleteRepository('alice/gone', registry), kind('not_found'));
      // pushed again, it starts afresh
      await pushTestImage(registry, 'alice/gone', 'v2');
      const again = await hub.pages.get(anonymous, 'alice/gone');
      assert.deepEqual([again.starCount, again.pullCount, again.categories], [0, 0, []]);
    }));
  });
}
