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
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Subject } from '../src/auth/access-policy.js';
import { DEFAULT_CATEGORIES } from '../src/hub/categories.js';
import { Hub } from '../src/hub/hub.js';
import { openPostgres, openSqlite, type MetadataDatabase } from '../src/metadata/database.js';
import type { Database } from '../src/metadata/schema.js';

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

// ---- a deterministic fixture ----------------------------------------------------------------

/** mulberry32: the same fixture on every run and backend. */
function random(seed: number) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAME_WORDS = (
  'nginx redis postgres mysql mongo node python golang java ruby rust php web api app server worker cache proxy gateway ' +
  'auth identity queue broker stream kafka rabbit search index vector graph metrics logs trace monitor alert backup sync ' +
  'cron job runner builder ci deploy helm chart operator controller agent sidecar mesh dns vpn tunnel ftp mail smtp chat ' +
  'bot ml ai model train infer notebook jupyter spark hadoop airflow etl data lake warehouse dashboard grafana prom loki ' +
  'static site blog wiki cms shop store cart pay billing invoice crm erp hr portal admin console cli sdk lib base alpine ' +
  'debian ubuntu fedora arch busybox distroless tools debug test bench demo sample hello world game media video audio ' +
  'image photo thumb resize convert pdf ocr scan geo map tile route fleet iot edge sensor camera home light lock'
).split(' ');
const TEXT_WORDS = (
  'a the and for with of to in on fast small secure simple lightweight production ready official community image container ' +
  'service server client database cache proxy gateway load balancer reverse http https tls certificate monitoring metrics ' +
  'logging tracing queue message broker stream event driven api rest graphql grpc websocket static site generator blog ' +
  'content management system platform framework runtime language compiler interpreter build tool test debug development ' +
  'deployment kubernetes helm chart operator cloud native serverless function storage backup restore replication cluster ' +
  'high availability scalable distributed search engine full text analytics dashboard visualisation machine learning model ' +
  'training inference notebook data pipeline workflow scheduler cron job batch processing realtime chat email notification ' +
  'authentication authorization identity provider single sign on vault secrets encryption scanner vulnerability firewall ' +
  'vpn dns network router mesh sidecar observability alerting minimal alpine debian ubuntu based multi arch arm64 amd64 ' +
  'nginx redis postgres mysql mongodb node python golang java ruby rust php elasticsearch kafka rabbitmq grafana prometheus'
).split(' ');

interface Fixture {
  users: string[];
  organizations: string[];
  repositories: string[];
  /** the subject timed as a signed-in member: owner of one organisation, on teams of others */
  member: string;
}

/** Zipf-like pick: low indexes much more often. */
const zipf = (rnd: () => number, n: number, s = 1.1) => Math.min(n - 1, Math.floor(n * Math.pow(rnd(), s * 3)));
const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

async function insertRows<T extends keyof Database>(db: Kysely<Database>, table: T, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const perStatement = Math.max(1, Math.floor(30_000 / Object.keys(rows[0]!).length));
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += perStatement) {
      await trx.insertInto(table).values(rows.slice(i, i + perStatement) as never).execute();
    }
  });
}

async function writeFixture(db: Kysely<Database>, hub: Hub, now: number): Promise<Fixture> {
  const rnd = random(42);
  const userCount = Math.max(50, Math.round(REPOSITORIES / 20));
  const orgCount = Math.max(10, Math.round(REPOSITORIES / 500));
  const users = Array.from({ length: userCount }, (_, i) => `user${i}`);
  const organizations = Array.from({ length: orgCount }, (_, i) => `org${i}`);
  const accountRow = (name: string, kind: string, verified: number) => ({
    name, email: null, password_hash: kind === 'user' ? 'x' : null, is_admin: 0, default_private: 0, created_at: now - 400 * 86_400_000,
    password_changed_at: now, deleted_at: null, kind, verified_publisher: verified, plan: 'team',
  });
  await insertRows(db, 'accounts', [
    ...users.map((u) => accountRow(u, 'user', 0)),
    ...organizations.map((o, i) => accountRow(o, 'organization', i % 4 === 0 ? 1 : 0)),
    accountRow('library', 'organization', 0),
  ]);
  const member = users[0]!;
  await insertRows(db, 'organization_members', [
    ...organizations.map((o, i) => ({ organization: o, account: users[(i * 7) % users.length]!, role: 'owner', created_at: now })),
    { organization: organizations[1]!, account: member, role: 'owner', created_at: now },
    ...organizations.slice(2, 12).map((o) => ({ organization: o, account: member, role: 'member', created_at: now })),
  ]);
  await insertRows(db, 'teams', organizations.slice(2, 12).map((o) => ({ organization: o, name: 'devs', description: '', created_at: now })));
  await insertRows(db, 'team_members', organizations.slice(2, 12).map((o) => ({ organization: o, team: 'devs', account: member })));

  await hub.categories.ensureDefaults();
  const repositories: string[] = [];
  const hubRows: Record<string, unknown>[] = [];
  const registryRows: Record<string, unknown>[] = [];
  const categoryRows: Record<string, unknown>[] = [];
  const readmeRows: Record<string, unknown>[] = [];
  const pullRows: Record<string, unknown>[] = [];
  const tagRows: Record<string, unknown>[] = [];
  const manifestRows: Record<string, unknown>[] = [];
  const detailRows: Record<string, unknown>[] = [];
  const referenceRows: Record<string, unknown>[] = [];
  const blobSizes = new Map<string, number>();
  const teamGrants: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const flush = async () => {
    await insertRows(db, 'hub_repositories', hubRows.splice(0));
    await insertRows(db, 'repositories', registryRows.splice(0));
    await insertRows(db, 'repository_categories', categoryRows.splice(0));
    await insertRows(db, 'repository_readmes', readmeRows.splice(0));
    await insertRows(db, 'repository_pulls', pullRows.splice(0));
    await insertRows(db, 'tags', tagRows.splice(0));
    await insertRows(db, 'manifests', manifestRows.splice(0));
    await insertRows(db, 'manifest_details', detailRows.splice(0));
    await insertRows(db, 'manifest_references', referenceRows.splice(0));
  };

  for (let i = 0; repositories.length < REPOSITORIES; i++) {
    const official = i < 150;
    const namespace = official ? 'library' : rnd() < 0.15 ? organizations[zipf(rnd, organizations.length, 0.6)]! : users[zipf(rnd, users.length, 0.6)]!;
    const short = official ? NAME_WORDS[i % NAME_WORDS.length]! + (i >= NAME_WORDS.length ? `${i}` : '') : `${NAME_WORDS[zipf(rnd, NAME_WORDS.length, 0.5)]}-${NAME_WORDS[Math.floor(rnd() * NAME_WORDS.length)]}${rnd() < 0.5 ? `-${Math.floor(rnd() * 100)}` : ''}`;
    const name = `${namespace}/${short}`;
    if (seen.has(name)) continue;
    seen.add(name);
    repositories.push(name);
    const rank = repositories.length;
    const pulls = Math.floor((official ? 50_000_000 : 2_000_000) / Math.pow(rank, 0.9) * (0.5 + rnd()));
    const words = Array.from({ length: 5 + Math.floor(rnd() * 8) }, () => TEXT_WORDS[zipf(rnd, TEXT_WORDS.length, 0.8)]).join(' ');
    const categories = rnd() < 0.3 ? [DEFAULT_CATEGORIES[Math.floor(rnd() * DEFAULT_CATEGORIES.length)]!] : [];
    const isPrivate = !official && rnd() < 0.1;
    const pushedAt = now - Math.floor(rnd() * 730 * 86_400_000);
    const artifact = !official && rnd() < 0.1;
    hubRows.push({
      name, namespace, private: isPrivate ? 1 : 0, created_at: pushedAt - 86_400_000,
      description: `${short.replace(/-/g, ' ')} ${words}`.slice(0, 100),
      categories: categories.map((c) => `${c.slug} ${c.name}`).join(' '), star_count: 0, pull_count: pulls,
    });
    if (rnd() < 0.3) readmeRows.push({ repository: name, content: `# ${short}\n\n${`${words}\n`.repeat(40)}`, updated_at: pushedAt });
    registryRows.push({ name, created_at: pushedAt - 86_400_000, last_pushed_at: pushedAt, kind: artifact ? 'artifact' : 'image' });
    for (const c of categories) categoryRows.push({ repository: name, category: c.slug });
    if (pulls > 0) pullRows.push({ repository: name, pulls, last_pulled_at: now - Math.floor(rnd() * 30 * 86_400_000) });
    if (namespace.startsWith('org') && organizations.slice(2, 12).includes(namespace) && rnd() < 0.3) {
      teamGrants.push({ organization: namespace, team: 'devs', repository: name, permission: 'read' });
    }
    const tags = 1 + Math.floor(rnd() * 3);
    for (let t = 0; t < tags; t++) {
      const tag = t === 0 ? 'latest' : `${1 + Math.floor(rnd() * 5)}.${t}`;
      const digest = digestOf(`${name}:${tag}`);
      const config = digestOf(`${name}:${tag}:config`);
      // half the layers are shared base layers, so storage sizes count distinct blobs
      const layers = [rnd() < 0.5 ? digestOf(`base:${Math.floor(rnd() * 1000)}`) : digestOf(`${name}:${tag}:l1`), digestOf(`${name}:${tag}:l2`)];
      const sizes = [1500, 3_000_000 + Math.floor(rnd() * 30_000_000), 100_000 + Math.floor(rnd() * 5_000_000)];
      [config, ...layers].forEach((d, k) => blobSizes.set(d, sizes[k]!));
      const content = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: artifact ? 'application/vnd.cncf.helm.config.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: config, size: sizes[0] },
        layers: layers.map((d, k) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: sizes[k + 1] })),
      }));
      manifestRows.push({ repository: name, digest, media_type: 'application/vnd.oci.image.manifest.v1+json', size: content.length, content, artifact_type: null, subject: null, annotations: null, created_at: pushedAt });
      detailRows.push({
        repository: name, digest, content_type: artifact ? 'helm' : 'image', size: sizes.reduce((a, b) => a + b, 0), config_digest: config,
        os: artifact ? null : 'linux', architecture: artifact ? null : 'amd64', variant: null, created: pushedAt, description: null, platforms: null,
        history: artifact ? null : JSON.stringify([{ created_by: 'ADD rootfs /', empty_layer: false }, { created_by: 'RUN make', empty_layer: false }]),
      });
      for (const d of [config, ...layers]) referenceRows.push({ repository: name, manifest_digest: digest, digest: d, kind: 'blob' });
      tagRows.push({ repository: name, name: tag, digest, updated_at: pushedAt, pushed_by: namespace });
    }
    if (hubRows.length >= 2000) await flush();
  }
  await flush();
  await insertRows(db, 'team_permissions', teamGrants);
  await insertRows(db, 'blobs', [...blobSizes].map(([digest, size]) => ({ digest, size, created_at: now })));

  // stars: each user stars a few repositories, popular ones more often; star_count follows
  const stars = new Map<string, Set<string>>();
  for (const u of users) {
    const mine = new Set<string>();
    for (let k = 0; k < 10; k++) mine.add(repositories[zipf(rnd, repositories.length)]!);
    stars.set(u, mine);
  }
  const starRows = [...stars].flatMap(([account, set]) => [...set].map((repository) => ({ account, repository, created_at: now - Math.floor(rnd() * 1e10) })));
  await insertRows(db, 'stars', starRows);
  await sql`update hub_repositories set star_count = (select count(*) from stars s where s.repository = hub_repositories.name)`.execute(db);
  return { users, organizations, repositories, member };
}

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
  const fixture = await writeFixture(database.db, hub, now);
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
