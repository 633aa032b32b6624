// The story in real Chromium and the real docker CLI: sign up in the browser, create a
// personal access token in the UI, `docker login` with it, push a multi-layer image and a second
// tag, find the repository through the search box, open its tags and a tag's layers, star it,
// write a README and see it rendered, make it private: a second user's browser no longer finds it
// (search, suggestions, Explore, its URL: the same "not found" as a missing one) while the owner
// still does. Every page is checked (checkPage) in English and French.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkBoth, checkPage, chromiumAvailability, failedRequest, launchChromium, newContext, openPage } from '../support/browser.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const chromium = await chromiumAvailability();
const daemon = await findDockerDaemon();
const PASSWORD = 'a long enough secret';


describe('the story in the browser and the docker CLI', { ...skipUnless(chromium), ...skipUnless(daemon), timeout: 15 * 60_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let docker: DockerClient;
  let registry: string;
  const contexts: BrowserContext[] = [];
  let alice: Page;
  const repo = () => `${server.url}/r/alice/webapp`;

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    browser = await launchChromium(requireTool(chromium));
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: 'bob', password: PASSWORD });
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await docker?.cleanup([`${registry}/alice/webapp:1.0`, `${registry}/alice/webapp:2.0`]);
    await server?.stop();
  });

  async function page(options: Parameters<typeof newContext>[1] = {}): Promise<Page> {
    const context = await newContext(browser, options);
    contexts.push(context);
    return openPage(context);
  }

  it('signs up, creates a token in the UI, and docker logs in with it and pushes two tags of a multi-layer image', async () => {
    alice = await page();
    await alice.goto(`${server.url}/signup`);
    await alice.getByLabel('Username').fill('alice');
    await alice.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await alice.getByLabel('Repeat the password').fill(PASSWORD);
    await alice.getByRole('button', { name: 'Create account' }).click();
    await alice.waitForURL(/\/settings\/tokens/);
    await alice.getByLabel('Description').fill('laptop');
    await alice.getByRole('checkbox', { name: /^repo:write/ }).check();
    await alice.getByRole('button', { name: 'Generate token' }).click();
    const secret = await alice.getByRole('textbox', { name: 'Token', exact: true }).inputValue();
    assert.match(secret, /^pier_pat_/);
    await alice.getByRole('button', { name: 'Done, I copied it' }).click();

    const login = await docker.ok(['login', '--username', 'alice', '--password-stdin', registry], { input: secret });
    assert.match(login.stdout, /Login Succeeded/);
    await docker.buildImage({ 'a.bin': randomBytes(40_000), 'b.bin': randomBytes(120_000), 'c/d.bin': randomBytes(10_000) }, `${registry}/alice/webapp:1.0`);
    await docker.ok(['push', `${registry}/alice/webapp:1.0`]);
    await docker.ok(['tag', `${registry}/alice/webapp:1.0`, `${registry}/alice/webapp:2.0`]);
    await docker.ok(['push', `${registry}/alice/webapp:2.0`]);
    // a pull, for the Insights chart
    await docker.ok(['pull', `${registry}/alice/webapp:1.0`]);
  });

  it('finds the repository from the search box: suggestions as one types, then the results page', async (t) => {
    if (!alice) return t.skip('needs the push');
    await alice.goto(`${server.url}/`);
    await alice.getByRole('heading', { name: 'Most pulled' }).waitFor();
    await alice.getByRole('link', { name: 'alice/webapp' }).first().waitFor();
    await checkBoth(alice, 'explore');

    const box = alice.getByRole('combobox', { name: 'Search repositories' });
    await box.fill('weba');
    await alice.getByRole('option', { name: /alice\/webapp/ }).waitFor();
    await checkPage(alice, { name: 'search-suggestions-en' });
    await box.press('Enter');
    await alice.waitForURL(/\/search\?q=weba/);
    await alice.getByText('1 repository').waitFor();
    await checkBoth(alice, 'search');
    // the filters narrow the results: no official image is called webapp
    await alice.getByRole('checkbox', { name: 'Official image' }).check();
    await alice.getByText('0 repositories').waitFor();
    await alice.getByRole('checkbox', { name: 'Official image' }).uncheck();
    await alice.getByRole('link', { name: 'alice/webapp' }).click();
    await alice.waitForURL(repo());
    await alice.getByRole('heading', { level: 1, name: /alice\/webapp/ }).waitFor();
    assert.equal(await alice.getByRole('textbox', { name: 'Pull command' }).inputValue(), `docker pull ${registry}/alice/webapp`);
    await checkBoth(alice, 'repository');
  });

  it('lists the tags with their pull commands and shows a tag\'s layers with the commands that made them', async (t) => {
    if (!alice) return t.skip('needs the push');
    await alice.goto(repo());
    await alice.getByRole('link', { name: 'Tags' }).click();
    await alice.getByRole('rowheader', { name: '2.0' }).waitFor();
    assert.equal(await alice.getByRole('rowheader', { name: '1.0' }).count(), 1);
    assert.match(await alice.getByRole('row', { name: /^1\.0/ }).innerText(), new RegExp(`linux/amd64[\\s\\S]*by alice[\\s\\S]*docker pull ${registry}/alice/webapp:1.0`));
    await checkBoth(alice, 'repository-tags');
    await alice.getByLabel('Filter by tag').fill('2.');
    await alice.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    await alice.getByLabel('Filter by tag').fill('');
    await alice.getByRole('rowheader', { name: '1.0' }).waitFor();
    await alice.getByRole('link', { name: '1.0' }).click();
    await alice.getByRole('heading', { name: 'Tag 1.0' }).waitFor();
    const layers = alice.getByRole('table', { name: 'Layers of linux/amd64' });
    await layers.waitFor();
    const text = await layers.innerText();
    for (const file of ['a.bin', 'b.bin', 'c/d.bin']) assert.match(text, new RegExp(`COPY [^\\n]*${file.replace('/', '\\/')}`));
    await checkBoth(alice, 'repository-tag');
  });

  it('stars the repository, shows pulls per day, writes a README seen rendered', async (t) => {
    if (!alice) return t.skip('needs the push');
    await alice.goto(repo());
    await alice.getByRole('button', { name: /Star/ }).click();
    await alice.getByRole('button', { name: /Starred/, pressed: true }).waitFor();
    await alice.getByText('1 star', { exact: true }).waitFor();
    assert.deepEqual([...(await server.hub.stars.starredAmong('alice', ['alice/webapp']))], ['alice/webapp']);

    await alice.getByRole('link', { name: 'Insights' }).click();
    await alice.getByRole('img', { name: /Pulls per day: [1-9]/ }).waitFor();
    // the chart is drawn with SVG attributes and classes: nothing the CSP refuses
    assert.equal(await alice.locator('svg [style]').count(), 0);
    await checkBoth(alice, 'repository-insights');

    await alice.getByRole('link', { name: 'Settings' }).click();
    await alice.getByLabel('Short description').fill('A small web app');
    await alice.getByLabel('README (Markdown)').fill('# Webapp\n\nServes **pages**.\n\n```sh\ndocker run webapp\n```\n\n<script>alert(1)</script>');
    await alice.getByRole('button', { name: 'Preview' }).click();
    await alice.locator('.preview h1', { hasText: 'Webapp' }).waitFor();
    await checkBoth(alice, 'repository-settings');
    const descriptions = alice.getByRole('form', { name: 'Description and README' });
    await descriptions.getByRole('button', { name: 'Save' }).click();
    await descriptions.getByText('Saved.').waitFor();
    await alice.getByRole('link', { name: 'Overview' }).click();
    await alice.locator('.readme h1', { hasText: 'Webapp' }).waitFor();
    assert.equal(await alice.locator('.readme strong').innerText(), 'pages');
    assert.equal(await alice.locator('.readme script').count(), 0);
    assert.match(await alice.locator('main .lead').innerText(), /A small web app/);
  });

  it('fits a phone in dark mode and a wide screen, and is driven from the keyboard (suggestions with arrows and Enter)', async (t) => {
    if (!alice) return t.skip('needs the push');
    const phone = await page({ colorScheme: 'dark', viewport: { width: 375, height: 740 } });
    const wide = await page({ viewport: { width: 1920, height: 1080 } });
    for (const [p, label] of [
      [phone, 'phone-dark'],
      [wide, 'wide'],
    ] as const) {
      for (const [path, name] of [
        ['/', 'explore'],
        ['/search?q=webapp', 'search'],
        ['/r/alice/webapp', 'repository'],
        ['/r/alice/webapp/-/tags', 'repository-tags'],
        ['/r/alice/webapp/-/tags/1.0', 'repository-tag'],
        ['/r/alice/webapp/-/insights', 'repository-insights'],
      ] as const) {
        await p.goto(`${server.url}${path}`);
        await p.locator('main h1').first().waitFor(); // a README may bring an h1 of its own
        await p.waitForFunction(() => !document.querySelector('[role="status"].loading'));
        await checkPage(p, { name: `${name}-${label}-en` });
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${name} (${label}) scrolls sideways by ${overflow}px`);
      }
    }

    const keys = await page();
    await keys.goto(`${server.url}/`);
    await keys.getByRole('heading', { name: 'Most pulled' }).waitFor();
    await keys.keyboard.press('Tab'); // skip link
    await keys.keyboard.press('Tab'); // brand
    await keys.keyboard.press('Tab'); // search box
    assert.equal(await keys.evaluate(() => document.activeElement?.getAttribute('role')), 'combobox');
    await keys.keyboard.type('webap');
    await keys.getByRole('option', { name: /alice\/webapp/ }).waitFor();
    await keys.keyboard.press('ArrowDown');
    assert.equal(await keys.getByRole('option', { name: /alice\/webapp/ }).getAttribute('aria-selected'), 'true');
    await keys.keyboard.press('Enter');
    await keys.waitForURL(repo());
    await keys.getByRole('heading', { level: 1, name: /alice\/webapp/ }).waitFor();
    // Escape closes the suggestions
    const box = keys.getByRole('combobox', { name: 'Search repositories' });
    await box.fill('weba');
    await keys.getByRole('option', { name: /alice\/webapp/ }).waitFor();
    await keys.keyboard.press('Escape');
    assert.equal(await box.getAttribute('aria-expanded'), 'false');
  });

  it('lists my repositories on the dashboard, creates one there, and deletes it with a typed confirmation', async (t) => {
    if (!alice) return t.skip('needs the push');
    await alice.goto(`${server.url}/`);
    await alice.getByRole('link', { name: 'My repositories' }).click();
    await alice.getByRole('heading', { name: 'Mine' }).waitFor();
    await alice.getByRole('link', { name: 'alice/webapp' }).waitFor();
    await checkBoth(alice, 'dashboard');
    await alice.getByText('Create a repository').click();
    await alice.getByLabel('Repository name').fill('notes');
    await alice.getByLabel('Short description').fill('Notes, pushed later');
    await alice.getByRole('button', { name: 'Create', exact: true }).click();
    await alice.waitForURL(`${server.url}/r/alice/notes`);
    await alice.getByText('Notes, pushed later').waitFor();
    await alice.getByText('Nothing pushed yet').waitFor();
    // a name taken: said in the form
    await alice.goto(`${server.url}/dashboard`);
    await alice.getByText('Create a repository').click();
    await alice.getByLabel('Repository name').fill('notes');
    await alice.getByRole('button', { name: 'Create', exact: true }).click();
    await alice.getByRole('alert').waitFor();
    await checkPage(alice, { name: 'dashboard-create-refused-en', allowConsole: [failedRequest(409)] });

    await alice.goto(`${server.url}/r/alice/notes/-/settings`);
    const remove = alice.getByRole('button', { name: 'Delete forever' });
    await alice.getByLabel('Type alice/notes to confirm').fill('alice/note');
    assert.equal(await remove.isDisabled(), true);
    await alice.getByLabel('Type alice/notes to confirm').fill('alice/notes');
    await alice.getByLabel('Current password').fill(PASSWORD);
    await remove.click();
    await alice.waitForURL(`${server.url}/dashboard`);
    await alice.getByRole('link', { name: 'alice/webapp' }).waitFor();
    assert.equal(await alice.getByRole('link', { name: 'alice/notes' }).count(), 0);
  });

  it('shows the plan and usage as bars: private repositories, storage, pulls left in the window', async (t) => {
    if (!alice) return t.skip('needs the push');
    await server.hub.plans.update('free', { pullsPerWindow: 100, pullWindowSeconds: 6 * 3600 });
    await alice.goto(`${server.url}/settings/profile`);
    await alice.getByText('Pulls in the current 6-hour window').waitFor();
    await alice.getByText('100 pulls left.').waitFor();
    assert.equal(await alice.locator('.usage meter').count(), 3);
    await checkBoth(alice, 'settings-usage');
  });

  it('creates an organisation\'s repository and gives a team of teammates write on it', async (t) => {
    if (!alice) return t.skip('needs the push');
    await server.hub.organizations.create('acme', 'alice');
    await server.hub.plans.apply('acme', 'team');
    await server.hub.organizations.addMember('acme', 'bob');
    await server.hub.teams.create('acme', 'dev');
    await server.hub.teams.addMember('acme', 'dev', 'bob');
    await alice.goto(`${server.url}/dashboard`);
    await alice.getByRole('heading', { name: 'acme (organization)' }).waitFor();
    await alice.getByText('Create a repository').click();
    await alice.getByLabel('Namespace').selectOption('acme');
    await alice.getByLabel('Repository name').fill('site');
    await alice.getByRole('button', { name: 'Create', exact: true }).click();
    await alice.waitForURL(`${server.url}/r/acme/site`);
    await alice.getByRole('link', { name: 'Settings' }).click();
    const dev = alice.getByRole('combobox', { name: 'Permission of team dev' });
    await dev.selectOption('write');
    await alice.waitForFunction(async () => {
      const res = await fetch('/api/v1/orgs/acme/teams/dev/permissions');
      return ((await res.json()) as { results: Array<{ repository: string; permission: string }> }).results.some((p) => p.repository === 'acme/site' && p.permission === 'write');
    });
    assert.deepEqual((await server.hub.teams.get('acme', 'dev'))?.permissions, [{ repository: 'acme/site', permission: 'write' }]);
    await checkBoth(alice, 'repository-settings-org');
    // bob, on the team, may push there now
    assert.ok((await server.hub.policy.allowed({ kind: 'account', name: 'bob', admin: false }, 'acme/site')).has('push'));
  });

  it('makes it private: another user\'s browser cannot find it anywhere, the owner still can', async (t) => {
    if (!alice) return t.skip('needs the push');
    const bob = await page({ locale: 'fr-FR' });
    await bob.goto(`${server.url}/signin`);
    await bob.getByLabel('Nom d’utilisateur').fill('bob');
    await bob.getByLabel('Mot de passe').fill(PASSWORD);
    await bob.getByRole('button', { name: 'Se connecter' }).click();
    await bob.waitForURL(`${server.url}/`);
    // public: bob sees it
    await bob.goto(repo());
    await bob.getByRole('heading', { level: 1, name: /alice\/webapp/ }).waitFor();
    assert.equal(await bob.getByRole('link', { name: 'Paramètres' }).count(), 0, 'no settings tab without admin permission');

    await alice.goto(`${repo()}/-/settings`);
    await alice.getByRole('button', { name: 'Make private' }).click();
    await alice.getByRole('button', { name: 'Make public' }).waitFor();
    await alice.getByText('Private', { exact: true }).first().waitFor();

    // bob: the URL shows the same page as a missing repository
    await bob.goto(repo());
    await bob.getByRole('heading', { name: 'Page introuvable' }).waitFor();
    await checkBoth(bob, 'repository-private-other', [failedRequest(404)]);
    await bob.goto(`${server.url}/r/alice/no-such-thing`);
    await bob.getByRole('heading', { name: 'Page introuvable' }).waitFor();
    // nor search, nor suggestions, nor Explore
    await bob.goto(`${server.url}/search?q=webapp`);
    await bob.getByText('0 dépôt').waitFor();
    const box = bob.getByRole('combobox', { name: 'Rechercher des dépôts' });
    await box.fill('weba');
    const suggested = await bob.waitForResponse((r) => r.url().includes('/api/v1/search/suggest'));
    assert.deepEqual(((await suggested.json()) as { results: unknown[] }).results, []);
    assert.equal(await bob.locator('.suggestions [role="option"]').count(), 0);
    await bob.goto(`${server.url}/`);
    await bob.getByRole('heading', { name: 'Les plus téléchargées' }).waitFor();
    await bob.waitForFunction(() => !document.querySelector('[role="status"].loading'));
    assert.equal(await bob.getByRole('link', { name: 'alice/webapp' }).count(), 0);

    // alice still finds it, marked private
    await alice.goto(`${server.url}/search?q=webapp`);
    await alice.getByRole('link', { name: 'alice/webapp' }).waitFor();
    await alice.getByText('Private').first().waitFor();
    await alice.goto(repo());
    await alice.getByRole('heading', { level: 1, name: /alice\/webapp/ }).waitFor();
  });
});
