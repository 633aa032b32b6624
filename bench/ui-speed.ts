// The UI's speed bar (`npm run bench:ui`, a benchmark rather than a test: a timed bar belongs to a
// quiet machine, not to the test suite's load): with 100,000 repositories in the index (the benchmark's fixture, written
// straight into the database), Explore, a search and a repository page show their content within
// one second of navigation in headless Chromium, on this machine, for an anonymous visitor. Each
// page is loaded once to warm the database's and the browser's caches (as a visitor's second
// page would be), then timed from the start of the navigation to its content on screen.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { writeFixture } from './pages-fixture.js';
import { chromiumAvailability, checkPage, launchChromium, newContext, openPage } from '../test/support/browser.js';
import { requireTool, skipUnless } from '../test/support/exec.js';
import { startTestServer, testBackends, type TestServer } from '../test/support/server.js';

const chromium = await chromiumAvailability();
const REPOSITORIES = Number(process.env.PIER_TEST_UI_REPOSITORIES ?? 100_000);
const BUDGET_MS = 1000;

for (const { backend, options } of await testBackends()) {
  describe(`UI speed with ${REPOSITORIES.toLocaleString('en')} repositories (${backend})`, { ...skipUnless(chromium), ...options, timeout: 15 * 60_000 }, () => {
    let server: TestServer;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;

    before(async () => {
      server = await startTestServer({ 'auth.mode': 'token' }, { backend });
      const started = Date.now();
      const fixture = await writeFixture(server.database.db, server.hub, Date.now(), REPOSITORIES);
      if (server.database.dialect === 'postgres') await sql`vacuum analyze`.execute(server.database.db);
      else await sql`analyze`.execute(server.database.db);
      console.log(`# ${backend}: ${fixture.repositories.length} repositories written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      browser = await launchChromium(requireTool(chromium));
      context = await newContext(browser);
      page = await openPage(context);
    });
    after(async () => {
      await context?.close().catch(() => {});
      await browser?.close();
      await server?.stop();
    });

    /** Navigates to `path` and waits for `ready`; the second of two runs is timed. */
    async function timed(path: string, ready: (page: Page) => Promise<unknown>, name: string): Promise<number> {
      let elapsed = 0;
      for (let run = 0; run < 2; run += 1) {
        await page.goto('about:blank');
        const started = Date.now();
        await page.goto(`${server.url}${path}`, { waitUntil: 'commit' });
        await ready(page);
        elapsed = Date.now() - started;
      }
      console.log(`# ${backend}: ${name} shown in ${elapsed} ms`);
      await checkPage(page, { name: `speed-${name}-${backend}-en` });
      return elapsed;
    }

    it('shows Explore within one second', async () => {
      const ms = await timed(
        '/',
        async (p) => {
          await p.locator('section[aria-labelledby="explore-official"] .repo-card').first().waitFor();
          await p.locator('section[aria-labelledby="explore-popular"] .repo-card').first().waitFor();
          await p.locator('section[aria-labelledby="explore-recent"] .repo-card').first().waitFor();
        },
        'explore',
      );
      assert.ok(ms < BUDGET_MS, `Explore took ${ms} ms`);
    });

    it('shows a search\'s results within one second', async () => {
      const ms = await timed(
        // two common words at full size; one where a small fixture may not hold both together
        REPOSITORIES >= 10_000 ? '/search?q=redis%20cache' : '/search?q=redis',
        async (p) => {
          await p.locator('.result-count').waitFor();
          await p.locator('.repo-card').first().waitFor();
        },
        'search',
      );
      assert.match(await page.locator('.result-count').innerText(), /^[\d,]+ repositories$/);
      assert.ok(ms < BUDGET_MS, `the search took ${ms} ms`);
    });

    it('shows a repository page and its tags within one second', async () => {
      const ms = await timed(
        '/r/library/nginx',
        async (p) => {
          await p.getByRole('heading', { level: 1, name: /nginx/ }).waitFor();
          await p.locator('.readme, .repo-overview .empty').first().waitFor();
        },
        'repository',
      );
      assert.ok(ms < BUDGET_MS, `the repository page took ${ms} ms`);
      const tags = await timed('/r/library/nginx/-/tags', (p) => p.getByRole('rowheader', { name: 'latest' }).waitFor(), 'repository-tags');
      assert.ok(tags < BUDGET_MS, `the tags took ${tags} ms`);
    });
  });
}
