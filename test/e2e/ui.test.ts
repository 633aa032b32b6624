// The web UI in real headless Chromium against an in-process Pier: every page in English and
// French passes checkPage (rendered, no raw key, no console error, no serious axe violation, a
// screenshot), and the account, organisation and administration stories work through the pages.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkBoth, checkPage, chromiumAvailability, failedRequest, launchChromium, newContext, openPage } from '../support/browser.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const chromium = await chromiumAvailability();

const PASSWORD = 'a long enough secret';


describe('web UI in Chromium', { ...skipUnless(chromium), timeout: 10 * 60_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    const executable = requireTool(chromium);
    server = await startTestServer({ 'auth.mode': 'token' });
    browser = await launchChromium(executable);
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  async function page(options: Parameters<typeof newContext>[1] = {}): Promise<Page> {
    const context = await newContext(browser, options);
    contexts.push(context);
    return openPage(context);
  }

  it('shows the public pages in the browser\'s language, English or French', async () => {
    for (const [locale, lang, heading] of [
      ['en-US', 'en', 'Images and artifacts, hosted by you'],
      ['fr-FR', 'fr', 'Vos images et artefacts, chez vous'],
    ] as const) {
      const p = await page({ locale });
      await p.goto(`${server.url}/`);
      await p.getByRole('heading', { level: 1, name: heading }).waitFor();
      assert.equal(await p.evaluate(() => document.documentElement.lang), lang);
      await checkPage(p, { name: `home-${lang}` });
      await p.goto(`${server.url}/signin`);
      await checkPage(p, { name: `sign-in-${lang}` });
      await p.goto(`${server.url}/signup`);
      await checkPage(p, { name: `sign-up-${lang}` });
      await p.goto(`${server.url}/no/such/page`);
      await checkPage(p, { name: `not-found-${lang}` });
      assert.match(await p.locator('main h1').innerText(), lang === 'en' ? /Page not found/ : /Page introuvable/);
    }
  });

  it('switches language from the header and remembers the choice', async () => {
    const p = await page({ locale: 'fr-FR' });
    await p.goto(`${server.url}/signin`);
    await p.getByRole('heading', { name: 'Connexion' }).waitFor();
    await p.getByRole('combobox', { name: 'Langue' }).selectOption('en');
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await p.evaluate(() => document.documentElement.lang), 'en');
    await p.reload();
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await p.evaluate(() => localStorage.getItem('pier.language')), 'en');
  });

  it('follows the system\'s dark mode and fits a phone and a wide screen', async () => {
    const light = await page({ colorScheme: 'light' });
    const dark = await page({ colorScheme: 'dark', viewport: { width: 375, height: 740 } });
    const wide = await page({ viewport: { width: 1920, height: 1080 } });
    for (const p of [light, dark, wide]) await p.goto(`${server.url}/`);
    const background = (p: Page) => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(await background(light), await background(dark));
    await checkPage(dark, { name: 'home-dark-phone' });
    await checkPage(wide, { name: 'home-wide' });
    for (const p of [dark, wide]) {
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    }
  });

  it('is usable from the keyboard: skip link first, then the header\'s controls', async () => {
    const p = await page();
    await p.goto(`${server.url}/signin`);
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const reached = new Set<string>();
    for (let i = 0; i < 12; i += 1) {
      await p.keyboard.press('Tab');
      reached.add(await p.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        return `${el?.tagName.toLowerCase()}:${el?.getAttribute('name') ?? el?.textContent?.trim() ?? ''}`;
      }));
    }
    for (const expected of ['input:q', 'select:', 'a:Sign in', 'a:Sign up', 'input:username', 'input:password', 'button:Sign in']) {
      assert.ok([...reached].some((r) => r.startsWith(expected)), `not reached by Tab: ${expected} (reached ${[...reached].join(', ')})`);
    }
    // sign in from the keyboard alone: type, then Enter submits
    await p.getByLabel('Username').focus();
    await p.keyboard.type('nobody');
    await p.keyboard.press('Tab');
    await p.keyboard.type('wrong password');
    await p.keyboard.press('Enter');
    await p.getByRole('alert').waitFor();
  });

  it('says why a sign-in failed, in the page, in plain words', async () => {
    const p = await page();
    await p.goto(`${server.url}/signin`);
    await p.getByLabel('Username').fill('nobody');
    await p.getByLabel('Password').fill('not the password');
    await p.getByRole('button', { name: 'Sign in' }).click();
    const alert = p.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /You need to sign in for this\.|incorrect username or password/);
    await checkPage(p, { name: 'sign-in-failed-en', allowConsole: [failedRequest(401)] });
  });

  describe('signed in', () => {
    let alice: Page;

    it('signs up in the browser, creates a personal access token shown once, and uses it', async () => {
        alice = await page();
      await alice.goto(`${server.url}/signup`);
      await alice.getByLabel('Username').fill('alice');
      await alice.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await alice.getByLabel('Repeat the password').fill(PASSWORD);
      await alice.getByRole('button', { name: 'Create account' }).click();
      await alice.waitForURL(/\/settings\/tokens/);
      await alice.getByText('Welcome, alice!').waitFor();
      await checkBoth(alice, 'settings-tokens');

      await alice.getByLabel('Description').fill('laptop');
      await alice.getByRole('checkbox', { name: /^repo:write/ }).check();
      await alice.getByRole('button', { name: 'Generate token' }).click();
      const secret = await alice.getByRole('textbox', { name: 'Token', exact: true }).inputValue();
      assert.match(secret, /^pier_pat_/);
      assert.equal(await alice.getByRole('textbox', { name: 'Sign in with docker' }).inputValue(), `docker login ${new URL(server.url).host} -u alice`);
      await checkPage(alice, { name: 'settings-token-created-en' });

      // the token works as docker login's password: the registry's token endpoint grants a push
      const res = await fetch(`${server.url}/token?service=${encodeURIComponent(server.auth!.service)}&scope=repository:alice/app:push,pull`, {
        headers: { authorization: `Basic ${Buffer.from(`alice:${secret}`).toString('base64')}` },
      });
      assert.equal(res.status, 200, await res.clone().text());

      // shown once: after "done" the secret is gone from the page, the list has the token with its scopes
      await alice.getByRole('button', { name: 'Done, I copied it' }).click();
      assert.equal(await alice.getByText(secret).count(), 0);
      const row = alice.getByRole('row', { name: /laptop/ });
      await row.waitFor();
      assert.match(await row.innerText(), /repo:read, repo:write/);
      await row.getByRole('button', { name: 'Revoke' }).click();
      await alice.getByRole('button', { name: 'Revoke "laptop"' }).click();
      await alice.getByText('No token yet.').waitFor();
      const after = await fetch(`${server.url}/token?service=${encodeURIComponent(server.auth!.service)}`, {
        headers: { authorization: `Basic ${Buffer.from(`alice:${secret}`).toString('base64')}` },
      });
      assert.equal(after.status, 401);
    });

    it('shows the profile, changes the default visibility and lists the browser session', async (t) => {
      if (!alice) return t.skip('needs the sign-up test');
      await alice.goto(`${server.url}/settings/profile`);
      await alice.getByText('Member since').waitFor();
      await checkBoth(alice, 'settings-profile');
      await alice.getByRole('checkbox', { name: 'Make new repositories private' }).check();
      await alice.waitForFunction(async () => ((await (await fetch('/api/v1/users/me')).json()) as { default_private: boolean }).default_private);
      assert.equal((await server.hub.accounts.get('alice'))!.defaultPrivate, true);

      await alice.getByRole('link', { name: 'Sessions' }).click();
      await alice.getByText('This session').waitFor();
      await checkBoth(alice, 'settings-sessions');
    });

    it('changes the password (wrong current password: said in the form)', async (t) => {
      if (!alice) return t.skip('needs the sign-up test');
      await alice.goto(`${server.url}/settings/password`);
      await alice.getByLabel('Current password').fill('not it');
      await alice.getByLabel('New password').fill('another long secret');
      await alice.getByLabel('Repeat the password').fill('another long secret');
      await alice.getByRole('button', { name: 'Change password' }).click();
      await alice.getByRole('alert').waitFor();
      await checkBoth(alice, 'settings-password-refused', [failedRequest(403)]);
      await alice.getByLabel('Current password').fill(PASSWORD);
      await alice.getByRole('button', { name: 'Change password' }).click();
      await alice.waitForFunction(() => /password was changed|Sign in/.test(document.body.innerText));
      assert.ok(await server.hub.accounts.authenticate('alice', 'another long secret'));
    });

    it('creates an organisation, adds a member, a team with a permission, and an organisation token', async () => {
        await server.hub.accounts.create({ name: 'bob', password: PASSWORD });
      const owner = await page();
      await server.hub.accounts.create({ name: 'carol', password: PASSWORD });
      await owner.goto(`${server.url}/signin`);
      await owner.getByLabel('Username').fill('carol');
      await owner.getByLabel('Password').fill(PASSWORD);
      await owner.getByRole('button', { name: 'Sign in' }).click();
      await owner.waitForURL(`${server.url}/`);
      await owner.goto(`${server.url}/orgs`);
      await owner.getByText('You are not a member of any organization.').waitFor();
      await checkBoth(owner, 'orgs-empty');
      await owner.getByLabel('Organization name').fill('acme');
      await owner.getByRole('button', { name: 'Create organization' }).click();
      await owner.waitForURL(/\/orgs\/acme$/);
      // teams and organisation tokens are features of the team plan
      await server.hub.plans.apply('acme', 'team');

      await owner.getByLabel('Username').fill('bob');
      await owner.getByRole('button', { name: 'Add', exact: true }).click();
      await owner.getByRole('cell', { name: 'bob', exact: true }).waitFor();
      await checkBoth(owner, 'org-members');

      await owner.getByRole('link', { name: 'Teams' }).click();
      await owner.getByLabel('Team name').fill('dev');
      await owner.getByRole('button', { name: 'Create team' }).click();
      await owner.getByRole('link', { name: 'dev' }).click();
      await owner.getByLabel('Add a member to the team').fill('bob');
      await owner.getByRole('button', { name: 'Add', exact: true }).click();
      await owner.getByRole('button', { name: 'Remove' }).waitFor();
      await owner.getByLabel('Repository').fill('*');
      await owner.getByRole('combobox', { name: 'Permission' }).selectOption('write');
      await owner.getByRole('button', { name: 'Grant', exact: true }).click();
      await owner.getByRole('cell', { name: 'All repositories' }).waitFor();
      await checkBoth(owner, 'org-team');
      const team = await server.hub.teams.get('acme', 'dev');
      assert.deepEqual(team?.members, ['bob']);
      assert.deepEqual(team?.permissions, [{ repository: '*', permission: 'write' }]);

      await owner.getByRole('link', { name: 'Access tokens' }).click();
      await owner.getByLabel('Description').fill('ci');
      await owner.getByRole('button', { name: 'Generate token' }).click();
      assert.match(await owner.getByRole('textbox', { name: 'Token', exact: true }).inputValue(), /^pier_oat_|^pier_/);
      assert.equal(await owner.getByRole('textbox', { name: 'Sign in with docker' }).inputValue(), `docker login ${new URL(server.url).host} -u acme`);
      await checkBoth(owner, 'org-tokens');

      await owner.getByRole('link', { name: 'Settings' }).click();
      await owner.getByText('Plan and usage').waitFor();
      await checkBoth(owner, 'org-settings');

      // deleting an organisation asks for its name typed out and the password
      await server.hub.organizations.create('oldco', 'carol');
      await owner.goto(`${server.url}/orgs/oldco/settings`);
      const remove = owner.getByRole('button', { name: 'Delete forever' });
      await owner.getByLabel('Type oldco to confirm').fill('oldc');
      assert.equal(await remove.isDisabled(), true);
      await owner.getByLabel('Type oldco to confirm').fill('oldco');
      await owner.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await remove.click();
      await owner.waitForURL(/\/orgs$/);
      assert.equal(await server.hub.organizations.get('oldco'), undefined);
    });

    it('administers users, plans, the official images, verified publishers and settings', async () => {
        await server.hub.accounts.create({ name: 'captain', password: PASSWORD, admin: true });
      const admin = await page({ locale: 'fr-FR' });
      await admin.goto(`${server.url}/signin?next=/admin`);
      await admin.getByLabel('Nom d’utilisateur').fill('captain');
      await admin.getByLabel('Mot de passe').fill(PASSWORD);
      await admin.getByRole('button', { name: 'Se connecter' }).click();
      await admin.waitForURL(/\/admin$/);
      await admin.getByRole('cell', { name: 'bob', exact: true }).waitFor();
      await checkBoth(admin, 'admin-users');

      // an administrator resets a password (no mail server)
      await admin.getByRole('row', { name: /^bob/ }).getByRole('button', { name: 'Réinitialiser le mot de passe' }).click();
      await admin.getByLabel('Nouveau mot de passe', { exact: true }).fill('reset by captain');
      await admin.getByRole('button', { name: 'Définir le mot de passe' }).click();
      await admin.getByText('Le mot de passe de bob a été réinitialisé.').waitFor();
      assert.ok(await server.hub.accounts.authenticate('bob', 'reset by captain'));

      for (const [link, name] of [
        ['Offres', 'admin-plans'],
        ['Images officielles', 'admin-library'],
        ['Éditeurs vérifiés', 'admin-publishers'],
        ['Réglages', 'admin-settings'],
      ] as const) {
        await admin.getByRole('navigation', { name: 'Rubriques de l’administration' }).getByRole('link', { name: link }).click();
        await admin.locator('main h2').first().waitFor();
        await checkBoth(admin, name);
      }
      await admin.getByRole('link', { name: 'Éditeurs vérifiés' }).click();
      await admin.getByLabel('Nom de l’organisation').fill('acme');
      await admin.getByRole('button', { name: 'Chercher' }).click();
      await admin.getByRole('checkbox', { name: 'acme est un éditeur vérifié' }).check();
      await admin.getByText('Éditeur vérifié', { exact: true }).waitFor();
      assert.equal((await server.hub.organizations.get('acme'))?.verifiedPublisher, true);

      // the administration is "not found" to anyone else
      const other = await page();
      await other.goto(`${server.url}/signin?next=/admin`);
      await other.getByLabel('Username').fill('bob');
      await other.getByLabel('Password').fill('reset by captain');
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByRole('heading', { name: 'Page not found' }).waitFor();

      // signing out ends the session: the header offers to sign in again
      await other.locator('details.menu > summary').click();
      await other.getByRole('button', { name: 'Sign out' }).click();
      await other.getByRole('link', { name: 'Sign in' }).first().waitFor();
    });
  });
});
