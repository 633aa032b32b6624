// Repository pages and search at scale: writes a fixture of N repositories (100,000 by default)
// straight into a fresh database (SQLite in a temporary directory, and a fresh PostgreSQL schema),
// then times the hub's queries as the API runs them: a search, a namespace listing, a repository
// page (the repository with its first page of tags), a suggestion, and Explore (everything
// visible, most pulled first). Prints p50/p95/max per query and backend; target p95 < 50 ms.
//
//   npm run bench:pages                                # both backends, 100,000 repositories
//   npm run bench:pages -- --repositories 20000 --backends sqlite --iterations 100
//   npm run bench:pages -- --help
//
// See bench/README.md ("Repository pages and search").
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import type { Subject } from '../src/auth/access-policy.js';
import { Hub } from '../src/hub/hub.js';
import { openPostgres, openSqlite, type MetadataDatabase } from '../src/metadata/database.js';
import { NAME_WORDS, random, TEXT_WORDS, writeFixture, zipf } from './pages-fixture.js';

const { values: options } = parseArgs({
  options: {
    repositories: { type: 'string', default: process.env.BENCH_REPOSITORIES ?? '100000' },
    iterations: { type: 'string', default: process.env.BENCH_ITERATIONS ?? '300' },
    backends: { type: 'string', default: process.env.BENCH_BACKENDS ?? 'sqlite,postgres' },
    'database-url': { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    out: { type: 'string', default: process.env.BENCH_OUT ?? join(dirname(fileURLToPath(import.meta.url)), '.results', 'pages-latest.json') },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (options.help) {
  console.log(`options (and variables):
  --repositories N   repositories in the fixture (BENCH_REPOSITORIES, default 100000)
  --iterations N     timed runs of each query (BENCH_ITERATIONS, default 300), after 30 unmeasured
  --backends LIST    sqlite,postgres (BENCH_BACKENDS)
  --database-url URL PostgreSQL server; a fresh schema is created and dropped (BENCH_DATABASE_URL)
  --out FILE         JSON results (BENCH_OUT, default bench/.results/pages-latest.json)
  --keep             keep the SQLite file and the PostgreSQL schema`);
  process.exit(0);
}

const REPOSITORIES = Number(options.repositories);
const ITERATIONS = Number(options.iterations);
const WARMUP = 30;
const APPLICATION_NAME = 'pier-bench-pages';
const TARGET_MS = 50;

// ---- timing ------------------------------------------------------------------------------

interface Timing {
  p50: number;
  p95: number;
  max: number;
  /** CPU time per request (this process, and the PostgreSQL backends that served it) */
  cpuP50: number;
  cpuP95: number;
}

/** CPU time used so far, in ms: this process, plus the PostgreSQL backends it talks to (ns-precise, from /proc/<pid>/schedstat). */
type CpuClock = () => number;

function processCpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function backendCpu(pids: number[]): number {
  let ns = 0;
  for (const pid of pids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a backend that closed (or /proc not readable): not counted
    }
  }
  return ns / 1e6;
}

async function time(run: (i: number) => Promise<unknown>, cpu: () => Promise<CpuClock>): Promise<Timing> {
  for (let i = 0; i < WARMUP; i++) await run(i);
  const clock = await cpu();
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const cpuStart = clock();
    const start = process.hrtime.bigint();
    await run(i + WARMUP);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    cpuSamples.push(clock() - cpuStart);
  }
  const at = (list: number[], q: number) => list[Math.min(list.length - 1, Math.floor(q * list.length))]!;
  samples.sort((a, b) => a - b);
  cpuSamples.sort((a, b) => a - b);
  return { p50: at(samples, 0.5), p95: at(samples, 0.95), max: samples[samples.length - 1]!, cpuP50: at(cpuSamples, 0.5), cpuP95: at(cpuSamples, 0.95) };
}

async function measure(database: MetadataDatabase): Promise<{ fixtureSeconds: number; queries: Record<string, Timing> }> {
  const now = Date.UTC(2026, 11, 1);
  const hub = new Hub(database.db, { now: () => now });
  const started = Date.now();
  const fixture = await writeFixture(database.db, hub, now, REPOSITORIES);
  // a database in use: statistics gathered (and on PostgreSQL the visibility map set, as autovacuum keeps it)
  if (database.dialect === 'postgres') await sql`vacuum analyze`.execute(database.db);
  else await sql`analyze`.execute(database.db);
  const fixtureSeconds = (Date.now() - started) / 1000;
  process.stderr.write(`  fixture: ${fixture.repositories.length} repositories in ${fixtureSeconds.toFixed(0)} s\n`);

  const rnd = random(7);
  const anonymous: Subject = { kind: 'anonymous' };
  const member: Subject = { kind: 'account', name: fixture.member, admin: false };
  // two of three requests anonymous, one signed in (the member's visibility has the most to check)
  const subject = (i: number) => (i % 3 === 2 ? member : anonymous);
  const queries = Array.from({ length: 100 }, (_, i) => {
    const pick = (words: string[]) => words[zipf(rnd, words.length, 0.6)]!;
    if (i % 4 === 0) return `${pick(NAME_WORDS)} ${pick(TEXT_WORDS)}`;
    if (i % 4 === 1) return pick(NAME_WORDS).slice(0, 3 + Math.floor(rnd() * 3));
    return i % 2 ? pick(NAME_WORDS) : pick(TEXT_WORDS);
  });
  const namespaces = [...fixture.users.slice(0, 50), ...fixture.organizations.slice(0, 20), 'library'];
  const orderings = ['name', '-last_updated', '-pull_count'] as const;
  const pages = fixture.repositories.filter((_, i) => i % 97 === 0);
  const prefixes = Array.from({ length: 100 }, () => NAME_WORDS[Math.floor(rnd() * NAME_WORDS.length)]!.slice(0, 2 + Math.floor(rnd() * 3)));

  const cpu = async (): Promise<CpuClock> => {
    if (database.dialect !== 'postgres') return processCpu;
    // the pool's connections, opened by the warm-up
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where application_name = ${APPLICATION_NAME}`.execute(database.db);
    const pids = rows.map((r) => Number(r.pid));
    return () => processCpu() + backendCpu(pids);
  };
  const results: Record<string, Timing> = {};
  const run = async (label: string, body: (i: number) => Promise<unknown>) => {
    results[label] = await time(body, cpu);
    const t = results[label]!;
    process.stderr.write(`  ${label.padEnd(44)} p50 ${t.p50.toFixed(2).padStart(7)} ms  p95 ${t.p95.toFixed(2).padStart(7)} ms  max ${t.max.toFixed(1).padStart(7)} ms  cpu p50 ${t.cpuP50.toFixed(2).padStart(6)} p95 ${t.cpuP95.toFixed(2).padStart(6)} ms\n`);
  };
  await run('search (words, page 1 of 25)', (i) => hub.search.search(subject(i), { query: queries[i % queries.length]!, page: 1, pageSize: 25 }));
  await run('namespace listing (page 1 of 25)', (i) =>
    hub.pages.listNamespace(subject(i), namespaces[i % namespaces.length]!, { page: 1, pageSize: 25, ordering: orderings[i % orderings.length]! }),
  );
  await run('repository page (repository + tags page 1)', async (i) => {
    const name = pages[i % pages.length]!;
    // a private one answers not found to most callers: also timed, that is a page view too
    await hub.pages.get(subject(i), name).catch(() => undefined);
    await hub.tags.list(subject(i), name, { page: 1, pageSize: 25 }).catch(() => undefined);
  });
  await run('suggestion (prefix, 10)', (i) => hub.search.suggest(subject(i), prefixes[i % prefixes.length]!));
  await run('explore (no words, most pulled, page 1)', (i) => hub.search.search(subject(i), { query: '', page: 1 + (i % 3), pageSize: 25, ordering: '-pull_count' }));
  await run('explore (no words, best, official filter)', (i) => hub.search.search(subject(i), { query: '', page: 1, pageSize: 25, official: i % 2 === 0 }));
  return { fixtureSeconds, queries: results };
}

// ---- backends ----------------------------------------------------------------------------

const loadAtStart = loadavg();
const report: Record<string, unknown> = { date: new Date().toISOString(), repositories: REPOSITORIES, iterations: ITERATIONS, backends: {} };
for (const backend of options.backends.split(',').map((b) => b.trim()).filter(Boolean)) {
  process.stderr.write(`${backend}:\n`);
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'pier-bench-pages-'));
    const database = await openSqlite({ path: join(dir, 'pier.db') });
    try {
      (report.backends as Record<string, unknown>).sqlite = await measure(database);
    } finally {
      await database.close();
      if (options.keep) process.stderr.write(`  kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    }
  } else if (backend === 'postgres') {
    const schema = `bench_pages_${Date.now().toString(36)}`;
    const url = new URL(options['database-url']);
    url.searchParams.set('application_name', APPLICATION_NAME);
    const database = await openPostgres({ url: url.toString(), schema, poolSize: 10 });
    try {
      (report.backends as Record<string, unknown>).postgres = await measure(database);
    } finally {
      await database.close();
      if (options.keep) process.stderr.write(`  kept schema ${schema}\n`);
      else {
        const client = new pg.Client({ connectionString: options['database-url'] });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    }
  } else {
    throw new Error(`unknown backend "${backend}" (sqlite, postgres)`);
  }
}

// ---- the table ---------------------------------------------------------------------------

const backends = report.backends as Record<string, { queries: Record<string, Timing> }>;
const names = Object.keys(backends);
const labels = [...new Set(names.flatMap((b) => Object.keys(backends[b]!.queries)))];
const lines = [[`query (${REPOSITORIES.toLocaleString('en')} repositories)`, ...names.flatMap((b) => [`${b} p50`, `p95`, `cpu p50`, `cpu p95`]), `p95 < ${TARGET_MS} ms`]];
for (const label of labels) {
  const cells = names.flatMap((b) => {
    const t = backends[b]!.queries[label];
    return t ? [t.p50, t.p95, t.cpuP50, t.cpuP95].map((v) => `${v.toFixed(1)} ms`) : ['', '', '', ''];
  });
  const met = names.every((b) => (backends[b]!.queries[label]?.p95 ?? 0) < TARGET_MS);
  lines.push([label, ...cells, met ? 'ok' : 'MISSED']);
}
const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
for (const [i, line] of lines.entries()) {
  console.log(line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
report.loadAverage = { start: loadAtStart, end: loadavg() };
console.log(`\nload average (1, 5, 15 min): ${loadAtStart.map((l) => l.toFixed(1)).join(', ')} at the start, ${loadavg().map((l) => l.toFixed(1)).join(', ')} at the end`);
mkdirSync(dirname(options.out), { recursive: true });
writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nresults: ${options.out}`);
