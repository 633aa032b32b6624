/**
 * The browser for end-to-end UI tests: Debian's Chromium driven by playwright-core (no browser
 * download), with a check that every page passes: not blank, no raw translation key, no console
 * error, no serious or critical axe-core violation; and a screenshot of it, saved under
 * artifacts/ui/ (PIER_TEST_ARTIFACTS overrides) so that a person can look at every page.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { en } from '../../web/src/i18n/en.js';
import { which, type Availability } from './exec.js';

const root = new URL('../..', import.meta.url).pathname;

/** Where screenshots go: gitignored, printed once per run. */
export const ARTIFACTS_DIR = process.env.PIER_TEST_ARTIFACTS ?? join(root, 'artifacts', 'ui');

export async function chromiumAvailability(): Promise<Availability<string>> {
  const path = process.env.PIER_TEST_CHROMIUM || (await which('chromium'));
  if (!path) return { ok: false, reason: 'chromium is not installed (apt-get install -y chromium)' };
  return { ok: true, value: path };
}

/**
 * Headless Chromium with the flags a shared CI machine needs. playwright-core gives every launch
 * a fresh temporary --user-data-dir of its own (and removes it on close): no state between runs.
 */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ContextOptions {
  /** the browser's language (navigator.languages), e.g. 'fr-FR' */
  locale?: string;
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
}

/** A fresh browser profile (cookies, storage) for one user; its pages are watched for errors. */
export async function newContext(browser: Browser, options: ContextOptions = {}): Promise<BrowserContext> {
  return browser.newContext({
    locale: options.locale ?? 'en-US',
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1280, height: 900 },
    timezoneId: 'UTC',
  });
}

/** What a page logged as an error; a test that expects one (a 404 it provoked) names it in `allow`. */
export class ConsoleWatch {
  readonly errors: string[] = [];
  constructor(page: Page) {
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') this.errors.push(`${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => this.errors.push(`uncaught: ${error.message}`));
  }
  /** the errors so far, minus the allowed ones; then forgets them */
  take(allow: RegExp[] = []): string[] {
    const found = this.errors.filter((e) => !allow.some((a) => a.test(e)));
    this.errors.length = 0;
    return found;
  }
}

const watches = new WeakMap<Page, ConsoleWatch>();

/** A page with its console watched from the first request on. */
export async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  watches.set(page, new ConsoleWatch(page));
  return page;
}

const KEYS = Object.keys(en);
let printed = false;

export interface CheckOptions {
  /** file name of the screenshot: `<name>.png` */
  name: string;
  /** console errors this page is expected to log */
  allowConsole?: RegExp[];
}

/**
 * The bar every page passes: it rendered (an h1 and some text in <main>), shows no raw
 * translation key, logged no console error, and axe-core finds no serious or critical violation.
 * Takes the screenshot first, so a failing page can be looked at.
 */
export async function checkPage(page: Page, options: CheckOptions): Promise<void> {
  await page.waitForLoadState('load');
  await page.locator('main h1').first().waitFor({ state: 'visible', timeout: 10_000 }).catch(() => {});
  // lazy routes and their first data: wait until nothing says "Loading…"
  await page.waitForFunction(() => !document.querySelector('[role="status"].loading'), undefined, { timeout: 10_000 }).catch(() => {});
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = join(ARTIFACTS_DIR, `${options.name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (!printed) {
    printed = true;
    console.log(`# UI screenshots: ${ARTIFACTS_DIR}`);
  }

  const shown = await page.evaluate(() => {
    const main = document.querySelector('main');
    const texts = [document.body.innerText, document.title];
    for (const element of document.querySelectorAll('[aria-label], [placeholder], [title], [alt]')) {
      for (const attribute of ['aria-label', 'placeholder', 'title', 'alt']) {
        const value = element.getAttribute(attribute);
        if (value) texts.push(value);
      }
    }
    return { main: main?.innerText.trim() ?? '', h1: document.querySelector('main h1')?.textContent?.trim() ?? '', all: texts.join('\n') };
  });
  assert.ok(shown.h1.length > 0, `${options.name}: no heading in <main> (a blank page?)`);
  assert.ok(shown.main.length >= 20, `${options.name}: <main> is (almost) empty: "${shown.main}"`);
  const raw = KEYS.filter((key) => shown.all.includes(key));
  assert.deepEqual(raw, [], `${options.name}: raw translation keys on the page`);

  const errors = watches.get(page)?.take(options.allowConsole) ?? [];
  assert.deepEqual(errors, [], `${options.name}: console errors`);

  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const run = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe.run;
    const result = await run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${options.name}: accessibility violations (axe-core)`);
}

/** Console messages a test may provoke on purpose (a page that shows the 404 it was given). */
export const failedRequest = (status: number) => new RegExp(`Failed to load resource: the server responded with a status of ${status}`);

/** Checks the page in the language it shows, then in the other one (through the header's switch), and back. */
export async function checkBoth(page: Page, name: string, allowConsole?: RegExp[]): Promise<void> {
  const language = page.getByRole('combobox', { name: /^(Language|Langue)$/ });
  const first = (await page.evaluate(() => document.documentElement.lang)) as 'en' | 'fr';
  const second = first === 'en' ? 'fr' : 'en';
  await checkPage(page, { name: `${name}-${first}`, allowConsole });
  await language.selectOption(second);
  await page.waitForFunction((lang) => document.documentElement.lang === lang, second);
  await checkPage(page, { name: `${name}-${second}`, allowConsole });
  await language.selectOption(first);
  await page.waitForFunction((lang) => document.documentElement.lang === lang, first);
}
