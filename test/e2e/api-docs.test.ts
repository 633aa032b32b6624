// The API reference page (/api/docs) in a real browser: Debian's Chromium, headless, loads it from
// a running Pier under the page's own Content-Security-Policy and must render every operation of
// the OpenAPI document without one console message (a blocked inline script or style would log
// one). Without chromium the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, skipUnless, which, type Availability } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

async function findChromium(): Promise<Availability<string>> {
  const path = await which('chromium');
  return path ? { ok: true, value: path } : { ok: false, reason: 'chromium not found (apt-get install chromium)' };
}

const found = await findChromium();

describe('/api/docs in Chromium', { ...skipUnless(found), timeout: 120_000 }, () => {
  let server: TestServer;
  let chromium: string;
  let profile: string;

  before(async () => {
    chromium = requireTool(found);
    server = await startTestServer({ 'auth.mode': 'token' });
    profile = await mkdtemp(join(tmpdir(), 'pier-chromium-'));
  });

  after(async () => {
    await server?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  /** The page's DOM once its script has run (virtual time lets the fetch finish), and what its console said. */
  async function render(path: string): Promise<{ dom: string; console: string[] }> {
    const result = await run(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--enable-logging=stderr',
        '--v=0',
        '--virtual-time-budget=15000',
        '--dump-dom',
        `${server.url}${path}`,
      ],
      { timeoutMs: 90_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    return { dom: result.stdout, console: result.stderr.split('\n').filter((line) => line.includes(':CONSOLE')) };
  }

  it('renders every operation of the document, with no console message (nothing blocked by the CSP)', async () => {
    const document = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    assert.ok(operations > 40, `${operations} operations`);

    const { dom, console } = await render('/api/docs');
    assert.deepEqual(console, []);
    assert.match(dom, new RegExp(`data-operations="${operations}"`));
    // what a reader looks for: a path, its summary, a parameter, a named schema
    assert.match(dom, /\/orgs\/\{org\}\/teams\/\{team\}\/permissions\/\{repository\}/);
    assert.match(dom, /Create a personal access token/);
    assert.match(dom, /id="schema-problem"/);
    assert.doesNotMatch(dom, /Could not load the OpenAPI document/);
  });
});
