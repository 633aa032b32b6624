// The Lifecycle section of a repository's settings (issue 11 in the UI of issue 10), in real
// Chromium with the real docker CLI: on a plan without the feature the section says so (no form);
// granted the plan, the owner adds an immutable tag rule (a bad pattern refused in place with the
// API's words), sets a retention policy, previews it and applies it, from the keyboard; docker
// then no longer pulls the deleted tag, still pulls the kept ones, and pushing the immutable tag
// with other content is refused with the rule. Someone without admin never sees the section.
// Every state in English and French (checkPage: rendered, no raw key, no console error, axe-core).
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
// pushed in this order: build-3 is the last one pushed
const TAGS = ['build-1', 'build-2', 'v1', 'build-3'] as const;


/** A call to the API from the page, as its scripts make it (the session cookie, the CSRF header). */
async function apiFrom(page: Page, method: string, path: string, json?: unknown): Promise<{ status: number; body: { policy?: unknown } }> {
  return page.evaluate(
    async ({ method, path, json }) => {
      const csrf = /(?:^|; )pier_csrf=([^;]*)/.exec(document.cookie)?.[1];
      const res = await fetch(`/api/v1${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': decodeURIComponent(csrf) } : {}) },
        body: json === undefined ? undefined : JSON.stringify(json),
      });
      return { status: res.status, body: res.status === 204 ? {} : await res.json() };
    },
    { method, path, json },
  );
}

describe('the Lifecycle section of repository settings, in the browser and with docker', { ...skipUnless(chromium), ...skipUnless(daemon), timeout: 15 * 60_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let docker: DockerClient;
  let registry: string;
  const contexts: BrowserContext[] = [];
  const refs = new Set<string>();
  let alice: Page;
  const ref = (tag: string) => `${registry}/alice/app:${tag}`;
  const settings = () => `${server.url}/r/alice/app/-/settings`;
  const tagsOf = async () => (await server.database.db.selectFrom('tags').select('name').where('repository', '=', 'alice/app').orderBy('name').execute()).map((t) => t.name);

  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
    registry = new URL(server.url).host;
    browser = await launchChromium(requireTool(chromium));
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: 'alice', password: PASSWORD });
    await server.hub.accounts.create({ name: 'bob', password: PASSWORD });
    await docker.ok(['login', '--username', 'alice', '--password-stdin', registry], { input: PASSWORD });
    for (const tag of TAGS) {
      refs.add(ref(tag));
      await docker.buildImage({ [`${tag}.bin`]: randomBytes(20_000) }, ref(tag));
      await docker.ok(['push', ref(tag)]);
    }
    alice = await signIn('alice');
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await docker?.cleanup(refs);
    await server?.stop();
  });

  async function signIn(name: string, locale = 'en-US'): Promise<Page> {
    const context = await newContext(browser, { locale });
    contexts.push(context);
    const page = await openPage(context);
    await page.goto(`${server.url}/signin`);
    await page.locator('input[name="username"]').fill(name);
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('main form button[type="submit"]').click();
    await page.waitForURL(`${server.url}/`);
    return page;
  }

  it('says that the free plan lacks immutable tags, with no form to fill', async () => {
    await alice.goto(settings());
    await alice.getByRole('heading', { name: 'Lifecycle' }).waitFor();
    const immutable = alice.getByRole('group', { name: 'Immutable tags' });
    await immutable.getByText('Immutable tags: the Free plan of alice does not include them.').waitFor();
    await immutable.getByText('Ask an administrator for the Team plan.').waitFor();
    assert.equal(await immutable.getByRole('textbox').count(), 0, 'no form the plan refuses');
    const retention = alice.getByRole('group', { name: 'Retention policy' });
    await retention.getByText('Retention policies: the Free plan of alice does not include them.').waitFor();
    assert.equal(await retention.getByRole('button').count(), 0, 'no form the plan refuses');
    await checkBoth(alice, 'lifecycle-plan-lacks');
  });

  it('adds an immutable tag rule: a bad pattern is refused in place with the API\'s words, a good one is listed', async () => {
    await server.hub.plans.apply('alice', 'team');
    await alice.goto(settings());
    const immutable = alice.getByRole('group', { name: 'Immutable tags' });
    await immutable.getByText('No rule: every tag may be moved or deleted.').waitFor();
    const pattern = immutable.getByRole('textbox', { name: 'Pattern' });
    await pattern.fill('/(/');
    await immutable.getByRole('button', { name: 'Add rule' }).click();
    await immutable.getByRole('alert').filter({ hasText: 'invalid regular expression /(/' }).waitFor();
    assert.equal(await pattern.getAttribute('aria-invalid'), 'true');
    await checkBoth(alice, 'lifecycle-pattern-refused', [failedRequest(400)]);

    await pattern.fill('v*');
    assert.equal(await pattern.getAttribute('aria-invalid'), null, 'the error goes as one types');
    await immutable.getByRole('button', { name: 'Add rule' }).click();
    await immutable.getByRole('rowheader', { name: 'v*' }).waitFor();
    assert.match(await immutable.getByRole('row', { name: /^v\*/ }).innerText(), /by alice/);
    assert.deepEqual((await server.hub.immutability.list('alice/app')).map((r) => r.pattern), ['v*']);
  });

  it('sets a retention policy: none set is refused with the API\'s words; the namespace\'s is said inherited; saved, it is the repository\'s own', async () => {
    await alice.goto(settings());
    const retention = alice.getByRole('group', { name: 'Retention policy' });
    await retention.getByText('No policy: every tag is kept.').waitFor();
    await retention.getByRole('button', { name: 'Save policy' }).click();
    await retention.getByRole('alert').waitFor();
    await checkPage(alice, { name: 'lifecycle-retention-empty-refused-en', allowConsole: [failedRequest(400)] });

    // a namespace's policy applies to its repositories without one of their own: said so
    assert.equal((await apiFrom(alice, 'PUT', '/namespaces/alice/retention', { keep_last: 3 })).status, 200);
    await alice.goto(settings());
    await retention.getByText('The policy of alice applies (this repository has none of its own). It keeps:').waitFor();
    await retention.getByText('the last 3 tags pushed').waitFor();
    await retention.getByRole('heading', { name: 'Give this repository its own policy' }).waitFor();
    await checkBoth(alice, 'lifecycle-policy-inherited');

    await retention.getByRole('spinbutton', { name: 'Keep the last N tags pushed' }).fill('1');
    await retention.getByRole('textbox', { name: 'Always keep tags matching' }).fill('build-2');
    await retention.getByRole('button', { name: 'Save policy' }).click();
    await retention.getByText('This repository’s own policy keeps:').waitFor();
    await retention.getByText('the last tag pushed').waitFor();
    await retention.getByRole('heading', { name: 'Change the policy' }).waitFor();
    await checkBoth(alice, 'lifecycle-policy');
    assert.deepEqual((await apiFrom(alice, 'GET', '/repositories/alice/app/retention')).body.policy, { keep_last: 1, keep_pulled_days: null, keep_pattern: 'build-2' });
  });

  it('previews and applies the policy from the keyboard: what goes, and why the others stay', async () => {
    await alice.goto(settings());
    const retention = alice.getByRole('group', { name: 'Retention policy' });
    await retention.getByRole('button', { name: 'Preview' }).waitFor();
    // every control of the section is reached with Tab, and works with Enter
    const reached: string[] = [];
    await alice.locator('body').focus();
    for (let i = 0; i < 120 && !reached.includes('Apply now'); i++) {
      await alice.keyboard.press('Tab');
      const name = await alice.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el?.closest('.lifecycle')) return '';
        const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
        return (label ?? el.textContent ?? '').trim();
      });
      if (name) reached.push(name);
      if (name === 'Preview') {
        await alice.keyboard.press('Enter');
        await retention.getByText('1 tag would be deleted. 3 tags kept.').waitFor();
      }
    }
    for (const control of ['Remove rule v*', 'Pattern', 'Add rule', 'Keep the last N tags pushed', 'Keep tags pulled within D days', 'Always keep tags matching', 'Save policy', 'Remove the policy', 'Preview', 'Apply now']) {
      assert.ok(reached.includes(control), `${control} is reached with Tab (reached: ${reached.join(' | ')})`);
    }
    const wouldGo = retention.getByRole('table', { name: 'Would be deleted' });
    assert.deepEqual(await wouldGo.getByRole('rowheader').allInnerTexts(), ['build-1']);
    const kept = retention.getByRole('table', { name: 'Kept' });
    assert.deepEqual((await kept.getByRole('rowheader').allInnerTexts()).sort(), ['build-2', 'build-3', 'v1']);
    assert.match(await kept.getByRole('row', { name: /^v1/ }).innerText(), /immutable/i);
    assert.deepEqual(await tagsOf(), ['build-1', 'build-2', 'build-3', 'v1'], 'a preview deletes nothing');
    await checkBoth(alice, 'lifecycle-preview');

    // Apply now asks once more: the confirmation takes the focus, Enter confirms
    await alice.keyboard.press('Enter');
    const confirm = retention.getByRole('button', { name: 'Delete the tags no rule keeps' });
    await confirm.waitFor();
    assert.equal(await confirm.evaluate((el) => el === document.activeElement), true);
    await alice.keyboard.press('Enter');
    await retention.getByText('1 tag deleted. 3 tags kept.').waitFor();
    assert.deepEqual(await retention.getByRole('table', { name: 'Deleted' }).getByRole('rowheader').allInnerTexts(), ['build-1']);
    assert.deepEqual(await tagsOf(), ['build-2', 'build-3', 'v1']);
    await checkBoth(alice, 'lifecycle-applied');
  });

  it('docker no longer pulls the deleted tag, pulls the kept ones, and is refused a move of the immutable tag with the rule', async () => {
    await docker.run(['rmi', ref('build-1'), ref('build-2')]);
    const gone = await docker.run(['pull', ref('build-1')]);
    assert.notEqual(gone.code, 0, gone.stdout);
    assert.match(gone.stdout + gone.stderr, /not found|manifest unknown/i);
    await docker.ok(['pull', ref('build-2')]);

    await docker.buildImage({ 'other.bin': randomBytes(20_000) }, ref('v1'));
    const moved = await docker.run(['push', ref('v1')]);
    assert.notEqual(moved.code, 0, moved.stdout);
    assert.match(moved.stdout + moved.stderr, /denied: tag "v1" of alice\/app is immutable \(rule "v\*"\) and cannot be moved to another manifest/);
  });

  it('removes the repository\'s own policy: the namespace\'s applies again', async () => {
    await alice.goto(settings());
    const retention = alice.getByRole('group', { name: 'Retention policy' });
    await retention.getByRole('button', { name: 'Remove the policy' }).click();
    await retention.getByRole('button', { name: 'Yes, remove this repository’s policy' }).click();
    await retention.getByText('The policy of alice applies (this repository has none of its own). It keeps:').waitFor();
    assert.equal((await apiFrom(alice, 'GET', '/repositories/alice/app/retention')).body.policy, null);
  });

  it('a plan that lost the features meanwhile: the API\'s refusal takes the place of each form', async () => {
    await alice.goto(settings());
    const immutable = alice.getByRole('group', { name: 'Immutable tags' });
    const retention = alice.getByRole('group', { name: 'Retention policy' });
    await immutable.getByRole('textbox', { name: 'Pattern' }).waitFor();
    await server.hub.plans.apply('alice', 'free');
    await immutable.getByRole('textbox', { name: 'Pattern' }).fill('release-*');
    await immutable.getByRole('button', { name: 'Add rule' }).click();
    await immutable.getByRole('alert').filter({ hasText: 'Your plan does not allow this.' }).filter({ hasText: 'needs the "tag-immutability" feature' }).waitFor();
    assert.equal(await immutable.getByRole('textbox').count(), 0);
    assert.equal(await immutable.getByRole('button', { name: 'Remove rule v*' }).count(), 1, 'a rule can still be removed');
    await retention.getByRole('spinbutton', { name: 'Keep the last N tags pushed' }).fill('2');
    await retention.getByRole('button', { name: 'Save policy' }).click();
    await retention.getByRole('alert').filter({ hasText: 'needs the "retention-policies" feature' }).waitFor();
    assert.equal(await retention.getByRole('spinbutton').count(), 0);
    await checkBoth(alice, 'lifecycle-plan-lost', [failedRequest(403)]);
    await server.hub.plans.apply('alice', 'team');
  });

  it('someone without admin on the repository never sees the section', async () => {
    const bob = await signIn('bob', 'fr-FR');
    await bob.goto(`${server.url}/r/alice/app`);
    await bob.getByRole('heading', { level: 1, name: /alice\/app/ }).waitFor();
    assert.equal(await bob.getByRole('link', { name: 'Paramètres' }).count(), 0);
    await bob.goto(settings());
    await bob.getByRole('heading', { name: 'Page introuvable' }).waitFor();
    assert.equal(await bob.getByRole('heading', { name: 'Cycle de vie' }).count(), 0);
    await checkBoth(bob, 'lifecycle-not-admin');
  });
});
