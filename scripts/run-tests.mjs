#!/usr/bin/env node
// Runs every *.test.ts under src/, test/ and web/ with node:test + tsx. Node 20's --test neither
// expands ** globs nor loads .ts by itself, so the files are listed here, and counted.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...find(path));
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let files = [...find(join(root, 'src')), ...find(join(root, 'test')), ...find(join(root, 'web'))].sort();
if (only.length > 0) files = files.filter((f) => only.some((o) => relative(root, f).includes(o)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
console.log(`running ${files.length} test files:\n${files.map((f) => `  ${relative(root, f)}`).join('\n')}`);

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.PIER_TEST_CONCURRENCY ?? 2}`, ...files],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code, signal) => {
  console.log(`test files run: ${files.length}`);
  process.exit(code ?? (signal ? 1 : 0));
});
