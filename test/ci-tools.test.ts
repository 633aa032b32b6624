// .ci/run installs, on a fresh machine, the Debian package of every command listed in .ci/tools.
// This test reads every test source for the commands it runs (`which('x')`, `run('x', …)`,
// `spawn('x', …)`, …) and fails when one is not listed: a new end-to-end client cannot land
// without its install line (a missing tool fails under CI=true, it is never skipped there).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;

/** Commands every machine has (coreutils, the shell, Node itself). */
const BUILT_IN = new Set(['node', 'sh', 'bash', 'env', 'kill', 'true', 'false', 'sleep', 'tar', 'cat']);

function listed(): Map<string, string> {
  const tools = new Map<string, string>();
  for (const line of readFileSync(join(root, '.ci/tools'), 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [command, pkg] = trimmed.split(/\s+/);
    assert.ok(command && pkg, `.ci/tools: "${line}" needs a command and a package`);
    tools.set(command, pkg);
  }
  return tools;
}

function sources(dir: string, test: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path, test));
    else if (test(entry.name)) out.push(path);
  }
  return out;
}

const CALLS = [
  /\bwhich\(\s*'([a-z/][\w/.-]*)'/g,
  // a function, not a method of some object (hub.retention.run('alice/app') runs no command)
  /(?<![.\w])(?:run|runOk|spawn|spawnSync|execFile|execFileSync)\(\s*'([a-z/][\w/.-]*)'/g,
  // a client that a variable may override: process.env.PIER_TEST_SKOPEO || 'skopeo'
  /process\.env\.PIER_TEST_\w+ \|\| '([a-z][\w.-]*)'/g,
];

/** A file of a library's package that a test needs: installedFile('/usr/share/…', 'package'). */
const INSTALLED_FILE = /\binstalledFile\(\s*'(\/[^']+)'/g;

function testSources(): string[] {
  return [
    ...sources(join(root, 'test'), (n) => n.endsWith('.ts')),
    ...sources(join(root, 'src'), (n) => /\.(test|suite|testing)\.ts$/.test(n)),
  ].filter((file) => !file.endsWith('ci-tools.test.ts'));
}

/** command (or installed file) -> the files that need it */
function needed(patterns: RegExp[], name: (match: string) => string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of testSources()) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        const command = name(match[1]!);
        if (BUILT_IN.has(command)) continue;
        found.set(command, [...(found.get(command) ?? []), relative(root, file)]);
      }
    }
  }
  return found;
}

const commandsRun = () => needed(CALLS, basename);
const filesNeeded = () => needed([INSTALLED_FILE], (path) => path);

describe('.ci/tools (what .ci/run installs on a fresh machine)', () => {
  it('lists every command a test runs', () => {
    const tools = listed();
    const run = commandsRun();
    // the scan itself works: these are run today, so an empty scan cannot pass
    for (const known of ['docker', 'dockerd', 'skopeo', 'nginx', 'openssl', 'redis-server', 'buildah', 'podman', 'go']) {
      assert.ok(run.has(known), `the scan no longer finds ${known}: fix the patterns in this test`);
    }
    const unlisted = [...run].filter(([command]) => !tools.has(command)).map(([command, files]) => `${command} (${[...new Set(files)].join(', ')})`);
    assert.deepEqual(unlisted, [], `commands run by tests but missing from .ci/tools: ${unlisted.join('; ')}`);
  });

  it('lists every installed file a test needs (a library, by a file of its package)', () => {
    const tools = listed();
    const files = filesNeeded();
    assert.ok(files.has('/usr/share/gocode/src/oras.land/oras-go/go.mod'), 'the scan no longer finds the oras-go sources: fix the pattern in this test');
    const unlisted = [...files].filter(([path]) => !tools.has(path)).map(([path, by]) => `${path} (${[...new Set(by)].join(', ')})`);
    assert.deepEqual(unlisted, [], `files tests need but missing from .ci/tools: ${unlisted.join('; ')}`);
  });

  it('is what .ci/run reads', () => {
    const script = readFileSync(join(root, '.ci/run'), 'utf8');
    assert.match(script, /done <\.ci\/tools/);
    assert.match(script, /apt-get install -y -q "\$\{missing\[@\]\}"/);
    assert.match(script, /\[ -e "\$command" \] \|\| missing\+=/, 'a listed path is checked for existence');
  });
});
