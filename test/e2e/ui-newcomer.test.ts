// The "Done means", as a newcomer who reads no documentation does it, in French: an
// administrator runs the instance from its pages (users, plans, categories, the library's
// official images, sign-up), publishes an official image; the newcomer signs up, finds and pulls that official image,
// creates a repository and pushes to it with the docker commands the pages show (copied from the
// page and run as they are), tags a new version the same way, sees when a tag was last pulled,
// files the repository in categories and makes it private. Every new page is checked (checkPage)
// in both languages.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkBoth, checkPage, chromiumAvailability, launchChromium, newContext, openPage } from '../support/browser.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const chromium = await chromiumAvailability();
const daemon = await findDockerDaemon();
const PASSWORD = 'a long enough secret';


/** A command the page shows, as words to give the docker CLI (after `docker`). */
function words(command: string): string[] {
  const [tool, ...args] = command.trim().split(/\s+/);
  assert.equal(tool, 'docker', `a docker command: ${command}`);
  return args;
}

describe('a newcomer, from the browser and the terminal, in French', { ...skipUnless(chromium), ...skipUnless(daemon), timeout: 15 * 60_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let docker: DockerClient;
  let registry: string;
  const contexts: BrowserContext[] = [];
  const refs = new Set<string>();
  /** a local name no other test on the shared daemon uses */
  const local = `pier-newcomer-${randomBytes(4).toString('hex')}`;
  let zoe: Page;

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    browser = await launchChromium(requireTool(chromium));
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: 'captain', password: PASSWORD, admin: true });
    await server.hub.accounts.create({ name: 'dave', password: PASSWORD });
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await docker?.cleanup([...refs, local]);
    await server?.stop();
  });

  async function page(options: Parameters<typeof newContext>[1] = {}): Promise<Page> {
    const context = await newContext(browser, options);
    contexts.push(context);
    return openPage(context);
  }

  it('an administrator manages users, plans, sign-up and the official images from the pages', async () => {
    const admin = await page();
    await admin.goto(`${server.url}/signin?next=/admin`);
    await admin.getByLabel('Username').fill('captain');
    await admin.getByLabel('Password').fill(PASSWORD);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.waitForURL(/\/admin$/);
    await admin.getByRole('heading', { name: 'Create a user' }).waitFor();

    // create a user who is an administrator, then take it back
    await admin.getByLabel('Username').fill('carol');
    await admin.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await admin.getByRole('checkbox', { name: 'Administrator', exact: true }).check();
    await admin.getByRole('button', { name: 'Create user' }).click();
    const carol = admin.getByRole('checkbox', { name: 'carol is an administrator' });
    await carol.waitFor();
    assert.equal(await carol.isChecked(), true);
    assert.equal((await server.hub.accounts.get('carol'))?.admin, true);
    await carol.uncheck();
    await admin.waitForFunction(async () => !((await (await fetch('/api/v1/users?q=carol')).json()) as { results: Array<{ admin: boolean }> }).results[0]?.admin);
    assert.equal((await server.hub.accounts.get('carol'))?.admin, false);

    // delete a user (asked twice)
    await admin.getByRole('row', { name: /^dave/ }).getByRole('button', { name: 'Delete' }).click();
    await admin.getByRole('button', { name: 'Delete dave and their repositories' }).click();
    await admin.getByRole('cell', { name: 'dave', exact: true }).waitFor({ state: 'detached' });
    assert.equal(await server.hub.accounts.get('dave'), undefined);

    // a plan for carol
    await admin.getByRole('link', { name: 'Plans' }).click();
    await admin.getByLabel('User or organization').fill('carol');
    await admin.getByLabel('Plan', { exact: true }).selectOption('team');
    await admin.getByRole('button', { name: 'Grant plan' }).click();
    await admin.getByText('carol is now on the team plan.').waitFor();
    assert.equal((await server.hub.plans.planOf('carol')).name, 'team');

    // categories: one added (its slug made from its name), one removed from every repository
    await admin.getByRole('link', { name: 'Categories' }).click();
    await admin.getByRole('heading', { name: 'Add a category' }).waitFor();
    await admin.getByLabel('Name', { exact: true }).fill('Game Servers');
    await admin.getByRole('button', { name: 'Add category' }).click();
    await admin.getByRole('cell', { name: 'game-servers', exact: true }).waitFor();
    await checkBoth(admin, 'admin-categories');
    await admin.getByRole('row', { name: /^Web Servers/ }).getByRole('button', { name: 'Remove' }).click();
    await admin.getByRole('button', { name: 'Remove Web Servers from every repository' }).click();
    await admin.getByRole('cell', { name: 'web-servers', exact: true }).waitFor({ state: 'detached' });
    const slugs = (await server.hub.categories.list()).map((c) => c.slug);
    assert.ok(slugs.includes('game-servers') && !slugs.includes('web-servers'), slugs.join(' '));

    // the official images: the library organisation, managed by administrators
    await admin.getByRole('link', { name: 'Official images' }).click();
    await admin.getByRole('link', { name: 'Manage the library organization' }).click();
    await admin.waitForURL(/\/orgs\/library$/);
    await admin.getByRole('heading', { level: 1, name: /library/ }).waitFor();
    await checkBoth(admin, 'admin-library-organization');

    // sign-up closed: the sign-up page says so; opened again
    await admin.goto(`${server.url}/admin/settings`);
    const signup = admin.getByRole('checkbox', { name: 'Anyone may sign up' });
    await signup.uncheck();
    await admin.waitForFunction(async () => !((await (await fetch('/api/v1/settings')).json()) as { signup_open: boolean }).signup_open);
    const visitor = await page({ locale: 'fr-FR' });
    await visitor.goto(`${server.url}/signup`);
    await visitor.getByText('Les inscriptions sont fermées sur ce Pier.', { exact: false }).waitFor();
    await signup.check();
    await admin.waitForFunction(async () => ((await (await fetch('/api/v1/settings')).json()) as { signup_open: boolean }).signup_open);

    // an official image, pushed by the administrator under its short name
    const login = await docker.ok(['login', '--username', 'captain', '--password-stdin', registry], { input: PASSWORD });
    assert.match(login.stdout, /Login Succeeded/);
    const official = `${registry}/hello:1.0`;
    refs.add(official);
    refs.add(`${registry}/hello:latest`);
    await docker.buildImage({ 'hello.txt': randomBytes(5_000) }, official);
    await docker.ok(['push', official]);
    await docker.ok(['tag', official, `${registry}/hello:latest`]);
    await docker.ok(['push', `${registry}/hello:latest`]);
    await docker.ok(['logout', registry]);
  });

  it('signs up, finds the official image on Explore and pulls it with the command shown', async () => {
    zoe = await page({ locale: 'fr-FR' });
    await zoe.goto(`${server.url}/signup`);
    await zoe.getByLabel('Nom d’utilisateur').fill('zoe');
    await zoe.getByLabel('Mot de passe', { exact: true }).fill(PASSWORD);
    await zoe.getByLabel('Répétez le mot de passe').fill(PASSWORD);
    await zoe.getByRole('button', { name: 'Créer le compte' }).click();
    await zoe.waitForURL(/\/settings\/tokens/);

    await zoe.goto(`${server.url}/`);
    const shelf = zoe.getByRole('region', { name: 'Images officielles' });
    await shelf.getByRole('link', { name: 'hello' }).click();
    await zoe.getByRole('heading', { level: 1, name: /hello/ }).waitFor();
    const pull = await zoe.getByRole('textbox', { name: 'Commande pour le récupérer' }).inputValue();
    assert.equal(pull, `docker pull ${registry}/hello`);
    assert.equal(await zoe.getByRole('textbox', { name: 'Pousser un nouveau tag' }).count(), 0, 'no push command for who may not push');
    await docker.ok(['rmi', `${registry}/hello:1.0`, `${registry}/hello:latest`]);
    const pulled = await docker.ok(words(pull));
    assert.match(pulled.stdout, /Downloaded newer image/);
  });

  it('creates a repository, pushes to it with the commands the page shows, then a new tag', async (t) => {
    if (!zoe) return t.skip('needs the account');
    await zoe.getByRole('link', { name: 'Mes dépôts' }).click();
    await zoe.getByRole('heading', { name: 'Les miens' }).waitFor();
    // nothing yet: the page says how to push the first image
    const firstPush = zoe.getByRole('textbox', { name: 'Poussez-la' });
    assert.equal(await firstPush.inputValue(), `docker push ${registry}/zoe/my-image:1.0`);
    await checkBoth(zoe, 'dashboard-empty');

    await zoe.getByText('Créer un dépôt').click();
    await zoe.getByLabel('Nom du dépôt', { exact: true }).fill('app');
    await zoe.getByRole('button', { name: 'Créer', exact: true }).click();
    await zoe.waitForURL(`${server.url}/r/zoe/app`);
    await zoe.getByRole('heading', { name: 'Poussez votre première image' }).waitFor();
    await checkBoth(zoe, 'repository-first-push');

    const loginCommand = await zoe.getByRole('textbox', { name: 'Connectez-vous à ce Pier depuis votre terminal' }).inputValue();
    const tagCommand = await zoe.getByRole('textbox', { name: 'Étiquetez une image locale avec le nom du dépôt' }).inputValue();
    const pushCommand = await firstPush.inputValue();
    assert.equal(loginCommand, `docker login ${registry}`);
    const target = `${registry}/zoe/app:1.0`;
    assert.deepEqual([tagCommand, pushCommand], [`docker tag my-image ${target}`, `docker push ${target}`]);
    refs.add(target);
    // the commands as shown; only the local image's name is ours, and the password comes on stdin
    await docker.buildImage({ 'a.bin': randomBytes(30_000), 'b.bin': randomBytes(30_000) }, local);
    await docker.ok([...words(loginCommand), '--username', 'zoe', '--password-stdin'], { input: PASSWORD });
    await docker.ok(words(tagCommand.replace('my-image', local)));
    await docker.ok(words(pushCommand));

    // a new version: the page shows the command to push another tag
    await zoe.reload();
    const newTag = await zoe.getByRole('textbox', { name: 'Pousser un nouveau tag' }).inputValue();
    assert.equal(newTag, `docker push ${registry}/zoe/app:nomdutag`);
    const second = `${registry}/zoe/app:2.0`;
    refs.add(second);
    await docker.ok(['tag', target, second]);
    await docker.ok(words(newTag.replace('nomdutag', '2.0')));
    await zoe.getByRole('link', { name: 'Tags' }).click();
    await zoe.getByRole('rowheader', { name: '2.0' }).waitFor();
    await zoe.getByRole('rowheader', { name: '1.0' }).waitFor();
  });

  it('shows when a tag was last pulled after a docker pull by tag', async (t) => {
    if (!zoe) return t.skip('needs the push');
    const second = `${registry}/zoe/app:2.0`;
    await docker.ok(['rmi', second, `${registry}/zoe/app:1.0`]);
    await docker.ok(['pull', second]);
    await server.hub.pullStats.flush();
    await zoe.goto(`${server.url}/r/zoe/app/-/tags/2.0`);
    await zoe.getByRole('heading', { name: 'Tag 2.0' }).waitFor();
    const lastPulled = zoe.locator('dt', { hasText: 'Dernier téléchargement' }).locator('xpath=following-sibling::dd[1]');
    assert.notEqual(await lastPulled.innerText(), 'Jamais');
    const pulls = zoe.locator('.tag-page dt', { hasText: 'Téléchargements' }).locator('xpath=following-sibling::dd[1]');
    assert.equal(await pulls.innerText(), '1', 'one pull of 2.0');
    await checkBoth(zoe, 'repository-tag-pulled');
  });

  it('files the repository in categories, and makes it private', async (t) => {
    if (!zoe) return t.skip('needs the push');
    await zoe.goto(`${server.url}/r/zoe/app/-/settings`);
    const form = zoe.getByRole('form', { name: 'Catégories' });
    const boxes = form.getByRole('checkbox');
    await boxes.first().waitFor();
    const names = [await boxes.nth(0).getAttribute('value'), await boxes.nth(1).getAttribute('value'), await boxes.nth(2).getAttribute('value')];
    for (let i = 0; i < 3; i++) await boxes.nth(i).check();
    // at most three: the others wait
    assert.equal(await boxes.nth(3).isDisabled(), true);
    await boxes.nth(2).uncheck();
    await form.getByRole('button', { name: 'Enregistrer' }).click();
    await form.getByText('Enregistré.').waitFor();
    await checkBoth(zoe, 'repository-settings-categories');
    const saved = await (await fetch(`${server.url}/api/v1/repositories/zoe/app`)).json() as { categories: Array<{ slug: string }> };
    assert.deepEqual(saved.categories.map((c) => c.slug).sort(), names.slice(0, 2).sort());
    await zoe.getByRole('link', { name: 'Présentation' }).click();
    const chips = zoe.getByRole('list', { name: 'Catégories' });
    await chips.waitFor();
    assert.equal(await chips.getByRole('link').count(), 2);

    await zoe.getByRole('link', { name: 'Paramètres' }).click();
    await zoe.getByRole('button', { name: 'Rendre privé' }).click();
    await zoe.getByRole('button', { name: 'Rendre public' }).waitFor();
    assert.equal((await fetch(`${server.url}/api/v1/repositories/zoe/app`)).status, 404, 'private: not found to anyone else');
  });

  it('adds a teammate: the settings of a personal repository lead to an organization', async (t) => {
    if (!zoe) return t.skip('needs the account');
    await zoe.goto(`${server.url}/r/zoe/app/-/settings`);
    await zoe.getByRole('heading', { name: 'Coéquipiers' }).waitFor();
    await zoe.getByRole('link', { name: 'Organisations', exact: true }).last().click();
    await zoe.waitForURL(`${server.url}/orgs`);
    await zoe.getByLabel('Nom de l’organisation').fill('zoe-studio');
    await zoe.getByRole('button', { name: 'Créer l’organisation' }).click();
    await zoe.waitForURL(`${server.url}/orgs/zoe-studio`);
    await zoe.getByRole('heading', { name: 'Ajouter un membre' }).waitFor();
    await zoe.getByLabel('Nom d’utilisateur').fill('carol');
    await zoe.getByRole('button', { name: 'Ajouter', exact: true }).click();
    await zoe.getByRole('cell', { name: 'carol', exact: true }).waitFor();
    assert.deepEqual((await server.hub.organizations.ofAccount('carol')).map((m) => m.organization), ['zoe-studio']);
  });
});
