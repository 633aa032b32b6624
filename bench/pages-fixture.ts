// The fixture of the repository-pages benchmark, and of the UI's speed test
// (test/e2e/ui-speed.test.ts): N repositories written straight into a database (fast bulk
// inserts), deterministic (the same on every run and backend), shaped like a public hub: official
// images, users and organisations, Zipf-like pulls and stars, tags with platforms and history,
// a tenth private, READMEs, categories, team grants.
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { DEFAULT_CATEGORIES } from '../src/hub/categories.js';
import type { Hub } from '../src/hub/hub.js';
import type { Database } from '../src/metadata/schema.js';


/** mulberry32: the same fixture on every run and backend. */
export function random(seed: number) {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const NAME_WORDS = (
  'nginx redis postgres mysql mongo node python golang java ruby rust php web api app server worker cache proxy gateway ' +
  'auth identity queue broker stream kafka rabbit search index vector graph metrics logs trace monitor alert backup sync ' +
  'cron job runner builder ci deploy helm chart operator controller agent sidecar mesh dns vpn tunnel ftp mail smtp chat ' +
  'bot ml ai model train infer notebook jupyter spark hadoop airflow etl data lake warehouse dashboard grafana prom loki ' +
  'static site blog wiki cms shop store cart pay billing invoice crm erp hr portal admin console cli sdk lib base alpine ' +
  'debian ubuntu fedora arch busybox distroless tools debug test bench demo sample hello world game media video audio ' +
  'image photo thumb resize convert pdf ocr scan geo map tile route fleet iot edge sensor camera home light lock'
).split(' ');
export const TEXT_WORDS = (
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

export interface Fixture {
  users: string[];
  organizations: string[];
  repositories: string[];
  /** the subject timed as a signed-in member: owner of one organisation, on teams of others */
  member: string;
}

/** Zipf-like pick: low indexes much more often. */
export const zipf = (rnd: () => number, n: number, s = 1.1) => Math.min(n - 1, Math.floor(n * Math.pow(rnd(), s * 3)));
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

/** Writes `count` repositories (with their owners, tags, manifests, pulls, stars) at `now`. */
export async function writeFixture(db: Kysely<Database>, hub: Hub, now: number, count: number): Promise<Fixture> {
  const REPOSITORIES = count;
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
