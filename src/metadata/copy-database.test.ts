import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { checkTables, copyDatabase, DatabaseCopyError, TABLES, TABLE_NAMES, resetSequences, type TableName } from './copy-database.js';
import { openSqlite, type MetadataDatabase } from './database.js';
import { fullTextMatch } from './full-text.js';
import { openTestPostgres, skipUnlessPostgres } from './postgres.testing.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const BIG = Number.MAX_SAFE_INTEGER; // 2^53 - 1: the largest integer a copy must keep exact
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

/** A few rows in every table, with the values that are easy to get wrong: bytes, big numbers, nulls. */
async function fill(database: MetadataDatabase, rows = 7): Promise<void> {
  const db = database.db;
  for (let i = 0; i < rows; i++) {
    const repo = `ns/repo-${i % 3}`;
    await db.insertInto('accounts').values({ name: `user${i}`, email: i % 2 ? `u${i}@example.com` : null, password_hash: `$argon2id$v=19$${i}`, is_admin: i === 0 ? 1 : 0, default_private: i % 2, created_at: BIG - i, password_changed_at: 1_700_000_000_000 + i, deleted_at: i === 3 ? 5 : null }).execute();
    await db.insertInto('access_tokens').values({ id: `pat-${i}`, account: `user${i}`, label: `label ${i} ✓`, token_hash: `hash-pat-${i}`, scopes: 'repo:read repo:write', created_at: i, expires_at: i % 2 ? BIG : null, last_used_at: null, revoked_at: null }).execute();
    await db.insertInto('refresh_tokens').values({ id: `rt-${i}`, account: `user${i}`, token_hash: `hash-rt-${i}`, client_id: i % 2 ? 'docker' : null, created_at: i, last_used_at: i, revoked_at: null }).execute();
    await db.insertInto('browser_sessions').values({ id: `bs-${i}`, account: `user${i}`, secret_hash: `hash-bs-${i}`, user_agent: i % 2 ? 'Mozilla/5.0 (X11; Linux) “quoted”' : null, created_at: i, last_used_at: BIG - i, expires_at: BIG, revoked_at: i % 2 ? i : null }).execute();
    await db.insertInto('signing_keys').values({ kid: `kid-${i}`, algorithm: 'ES256', public_jwk: '{"kty":"EC"}', private_jwk_encrypted: `enc-${i}`, created_at: i, retired_at: i % 2 ? i : null }).execute();
    await db.insertInto('settings').values({ key: `setting.${i}`, value: JSON.stringify({ i, text: 'naïve "quoted"\n' }) }).execute();
    await db.insertInto('repositories').values({ name: `ns/repo-${i}`, created_at: i }).execute();
    await db.insertInto('hub_repositories').values({ name: `ns/repo-${i}`, namespace: 'ns', private: i % 2, created_at: i }).execute();
    await db.insertInto('blobs').values({ digest: digest(i), size: i === 0 ? BIG : i * 1000, created_at: i }).execute();
    await db.insertInto('blob_links').values({ repository: repo, digest: digest(i), linked_at: i, last_seen_at: BIG }).execute();
    await db
      .insertInto('manifests')
      .values({ repository: repo, digest: digest(100 + i), media_type: 'application/vnd.oci.image.manifest.v1+json', size: 256 + i, content: Buffer.concat([ALL_BYTES, Buffer.from([i])]), artifact_type: i % 2 ? 'application/x-test' : null, subject: i % 2 ? digest(100) : null, annotations: i % 2 ? '{"a":"b"}' : null, created_at: i })
      .execute();
    for (const kind of ['blob', 'manifest'] as const) {
      await db.insertInto('manifest_references').values({ repository: repo, manifest_digest: digest(100 + i), digest: digest(i), kind }).execute();
    }
    await db.insertInto('tags').values({ repository: repo, name: `v${i}`, digest: digest(100 + i), updated_at: i }).execute();
    await db.insertInto('uploads').values({ id: `upload-${i}`, repository: repo, size: 0, sha256: 'e3b0', created_at: i, updated_at: i, locked_until: null }).execute();
    await db.insertInto('organization_members').values({ organization: 'org', account: `user${i}`, role: i === 0 ? 'owner' : 'member', created_at: i }).execute();
    await db.insertInto('teams').values({ organization: 'org', name: `team-${i}`, description: i % 2 ? 'déjà' : '', created_at: i }).execute();
    await db.insertInto('team_members').values({ organization: 'org', team: `team-${i}`, account: `user${i}` }).execute();
    await db.insertInto('team_permissions').values({ organization: 'org', team: `team-${i}`, repository: i % 2 ? '*' : `org/repo-${i}`, permission: 'write' }).execute();
    await db.insertInto('plans').values({ name: `plan-${i}`, title: `Plan ${i}`, price_label: '$0', private_repositories: i % 2 ? null : i, storage_bytes: i === 0 ? BIG : null, pulls_per_window: 100, pull_window_seconds: 21_600, seats: null, features: '[]', position: i }).execute();
    await db.insertInto('repository_pulls').values({ repository: `ns/repo-${i}`, pulls: i * 1000, last_pulled_at: i % 2 ? BIG : null }).execute();
    await db.insertInto('tag_pulls').values({ repository: repo, tag: `v${i}`, pulls: i, last_pulled_at: i }).execute();
    await db.insertInto('outbox').values({ id: `event-${i}`, type: 'manifest.pushed', payload: '{"repository":"ns/repo"}', created_at: i, delivered_at: i % 2 ? i : null }).execute();
    await db
      .insertInto('manifest_details')
      .values({ repository: repo, digest: digest(100 + i), content_type: 'image', size: i === 0 ? BIG : i, config_digest: digest(i), os: 'linux', architecture: 'amd64', variant: i % 2 ? 'v8' : null, created: i, description: i % 2 ? 'déjà "vu"' : null, platforms: null, history: '[]' })
      .execute();
    await db.updateTable('hub_repositories').set({ description: `the repository number ${i}`, categories: 'security Security', star_count: i, pull_count: BIG - i }).where('name', '=', `ns/repo-${i}`).execute();
    await db.insertInto('categories').values({ slug: `category-${i}`, name: `Category ${i} & co`, description: '', created_at: i }).execute();
    await db.insertInto('repository_categories').values({ repository: `ns/repo-${i}`, category: `category-${i}` }).execute();
    await db.insertInto('stars').values({ account: `user${i}`, repository: repo, created_at: i }).execute();
    await db.insertInto('repository_pull_days').values({ repository: repo, day: 20_000 + i, pulls: i }).execute();
    await db.insertInto('repository_readmes').values({ repository: `ns/repo-${i}`, content: `# README ${i}\n\nnaïve ✓`, updated_at: i }).execute();
    await db.insertInto('proxies').values({ namespace: `proxy-${i}`, url: `https://registry-${i}.example`, username: i % 2 ? `user${i}` : null, password_sealed: i % 2 ? `v1.sealed.${i}` : null, ttl_ms: 600_000, visibility: i % 2 ? 'members' : 'public', created_at: i, updated_at: BIG }).execute();
    await db.insertInto('proxy_tags').values({ repository: `proxy-0/library/app-${i}`, tag: `v${i}`, digest: digest(100 + i), checked_at: BIG - i }).execute();
    await db.insertInto('proxy_repositories').values({ repository: `proxy-0/library/app-${i}`, namespace: 'proxy-0', created_at: i, last_access_at: BIG - i }).execute();
    await db.insertInto('replication_rules').values({ name: `rule-${i}`, direction: i % 2 ? 'pull' : 'push', url: `https://site-${i}.example`, username: null, password_sealed: null, repositories: '["ns/*"]', tags: i % 2 ? null : '["v*"]', destination: i % 2 ? 'mirror' : '', interval_ms: i % 2 ? 3_600_000 : null, next_run_at: i % 2 ? BIG : null, enabled: 1, created_at: i, updated_at: i }).execute();
    await db.insertInto('replication_runs').values({ id: `run-${i}`, rule: `rule-${i}`, trigger: 'push', scope: '{"repository":"ns/repo"}', status: 'succeeded', attempts: 1, not_before: i, claim: null, claimed_until: null, created_at: i, started_at: i, finished_at: i + 1, manifests_copied: i, blobs_copied: i, blobs_skipped: 0, bytes_copied: i === 0 ? BIG : i, report: '{"repositories":[]}', error: null }).execute();
    await db.insertInto('webhooks').values({ id: `hook-${i}`, scope_kind: i % 2 ? 'organization' : 'repository', scope: i % 2 ? 'ns' : `ns/repo-${i}`, name: `hook ${i} ✓`, url: `https://ci-${i}.example/hook`, events: '["push"]', active: i % 2, secret_sealed: `v1.iv.tag.${i}`, disabled_reason: i % 2 ? null : 'kept failing', failures: i, created_by: `user${i}`, created_at: i, updated_at: BIG - i }).execute();
    await db.insertInto('webhook_deliveries').values({ id: `delivery-${i}`, hook: `hook-${i}`, event_id: i % 2 ? `event-${i}` : null, event: 'push', ordering: `ns/repo-${i}`, body: JSON.stringify({ i, text: 'naïve "quoted"\n' }), status: 'succeeded', attempts: 1, next_attempt_at: i, claim: null, claimed_until: null, created_at: i, finished_at: i === 0 ? BIG : i + 1, error: null }).execute();
    await db.insertInto('webhook_attempts').values({ delivery: `delivery-${i}`, attempt: 1, at: i, status_code: i % 2 ? 200 : null, latency_ms: i, error: i % 2 ? null : 'refused', response_excerpt: i % 2 ? 'ok' : null }).execute();
    await db.insertInto('audit_events').values({ id: `audit-${i}`, at: BIG - i, actor: i % 2 ? `user${i}` : null, via: 'password', action: 'repository.create', target: `ns/repo-${i}`, namespace: 'ns', result: 'ok', address: '127.0.0.1', user_agent: 'docker/27 “quoted”', request_id: `req-${i}`, details: '{"private":true}' }).execute();
    await db.insertInto('gc_runs').values({ id: `gc-${i}`, trigger: 'cli', status: 'succeeded', dry_run: i % 2, untagged: 0, grace_ms: 3_600_000, started_at: i, finished_at: i + 1, report: '{"blobs":1}', error: null }).execute();
    await db.insertInto('immutable_tag_rules').values({ repository: `ns/repo-${i}`, pattern: i % 2 ? 'v*' : '/^Ä\\d+$/', created_at: BIG - i, created_by: i % 2 ? `user${i}` : null }).execute();
    await db
      .insertInto('retention_policies')
      .values({ scope: i % 2 ? 'repository' : 'namespace', target: i % 2 ? `ns/repo-${i}` : `ns${i}`, keep_last: i % 2 ? i : null, keep_pulled_days: i % 3 ? null : 30, keep_pattern: i % 2 ? null : 'v*', updated_at: BIG - i, updated_by: null })
      .execute();
    await db.insertInto('retention_runs').values({ id: `retention-${i}`, trigger: 'schedule', scope: '*', status: 'succeeded', started_at: BIG - i, finished_at: BIG, deleted: i, error: null }).execute();
  }
}

/** What the full-text index finds for `word` (derived from the copied rows: the target builds it itself). */
async function searchable(database: MetadataDatabase, word: string): Promise<string[]> {
  const match = fullTextMatch(database.dialect, [word]);
  const { rows } = await sql<{ name: string }>`select h.name from ${match.from} where ${match.where} order by h.name`.execute(database.db);
  return rows.map((r) => r.name);
}

/** The rows of a table, in the columns the copier copies (not the ones a database computes, such as PostgreSQL's tsvector). */
async function rowsOf(database: MetadataDatabase, table: TableName): Promise<unknown[]> {
  const columns = (await checkTables(database, 'test')).get(table)!;
  let query = (database.db as Kysely<any>).selectFrom(table).select(columns);
  for (const column of TABLES[table].key) query = query.orderBy(column);
  return query.execute();
}

async function assertSameRows(a: MetadataDatabase, b: MetadataDatabase): Promise<void> {
  for (const table of TABLE_NAMES) {
    if ('skip' in TABLES[table]) continue;
    assert.deepEqual(await rowsOf(b, table), await rowsOf(a, table), `table ${table}`);
  }
}

const sqlite = () => openSqlite({ path: ':memory:' });

describe('copyDatabase: SQLite to SQLite', () => {
  it('copies every table in pages, keeps bytes and big numbers, and leaves upload sessions behind', async () => {
    const [source, target] = [await sqlite(), await sqlite()];
    try {
      await fill(source);
      const progress: string[] = [];
      const report = await copyDatabase({ source, target, batchRows: 3, onProgress: (p) => progress.push(`${p.table}:${p.copied}${p.done ? '.' : ''}`) });
      assert.deepEqual(report.problems, []);
      await assertSameRows(source, target);
      const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
      assert.equal(byTable.manifest_references!.copied, 14);
      assert.equal(byTable.manifest_references!.targetRows, 14);
      assert.equal(byTable.accounts!.verified, true);
      assert.match(byTable.uploads!.skipped ?? '', /upload sessions/);
      assert.equal(byTable.uploads!.sourceRows, 7);
      assert.equal((await rowsOf(target, 'uploads')).length, 0);
      assert.ok(progress.includes('tags:3') && progress.includes('tags:6') && progress.includes('tags:7.'), progress.join(' '));
      assert.equal(report.sequencesReset, 0);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('refuses a target that holds data; --resume copies what is missing and finds what differs', async () => {
    const [source, target] = [await sqlite(), await sqlite()];
    try {
      await fill(source);
      await copyDatabase({ source, target });
      await assert.rejects(copyDatabase({ source, target }), (error: Error) => {
        assert.ok(error instanceof DatabaseCopyError);
        assert.match(error.message, /holds data already: accounts \(7\).*--resume/);
        return true;
      });

      await target.db.deleteFrom('tags').where('name', 'in', ['v1', 'v5']).execute();
      await target.db.deleteFrom('manifests').where('digest', '=', digest(102)).execute();
      const resumed = await copyDatabase({ source, target, resume: true, batchRows: 2 });
      assert.deepEqual(resumed.problems, []);
      const tags = resumed.tables.find((t) => t.table === 'tags')!;
      assert.deepEqual([tags.copied, tags.alreadyThere], [2, 5]);
      assert.equal(resumed.tables.find((t) => t.table === 'accounts')!.copied, 0);
      await assertSameRows(source, target);

      // a row changed in the target (same key) is put back; a row only in the target is found
      await target.db.updateTable('accounts').set({ password_hash: 'other', email: null }).where('name', '=', 'user1').execute();
      await target.db.insertInto('settings').values({ key: 'only.in.target', value: '1' }).execute();
      const differ = await copyDatabase({ source, target, resume: true });
      assert.deepEqual(differ.problems, ['table settings: 7 rows in the source, 8 in the target']);
      const accounts = differ.tables.find((t) => t.table === 'accounts')!;
      assert.deepEqual([accounts.copied, accounts.alreadyThere, accounts.verified], [1, 6, true]);
      assert.deepEqual(await rowsOf(target, 'accounts'), await rowsOf(source, 'accounts'));
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('--resume after an interrupted copy takes the rows the source changed meanwhile, and verifies', async () => {
    const [source, target] = [await sqlite(), await sqlite()];
    try {
      await fill(source);
      // interrupted after the first page of manifests: the tables before it are copied, the rest not
      const stop = new Error('interrupted');
      await assert.rejects(
        copyDatabase({
          source,
          target,
          batchRows: 3,
          onProgress: (p) => {
            if (p.table === 'manifests' && p.copied === 3) throw stop;
          },
        }),
        (error) => error === stop,
      );
      assert.equal((await rowsOf(target, 'accounts')).length, 7);
      assert.equal((await rowsOf(target, 'manifests')).length, 3);
      // the server ran on: rows already copied changed (a value, a null, bytes), others were added
      await source.db.updateTable('accounts').set({ email: 'new@example.com', deleted_at: null }).where('name', '=', 'user3').execute();
      await source.db.updateTable('accounts').set({ email: null }).where('name', '=', 'user1').execute();
      await source.db.updateTable('manifests').set({ content: Buffer.from('changed'), subject: null }).where('digest', '=', digest(103)).execute();
      await source.db.updateTable('blobs').set({ size: BIG - 1 }).where('digest', '=', digest(0)).execute();
      await source.db.insertInto('settings').values({ key: 'added.later', value: '"x"' }).execute();

      const resumed = await copyDatabase({ source, target, resume: true, batchRows: 3 });
      assert.deepEqual(resumed.problems, []);
      assert.ok(resumed.tables.filter((t) => !t.skipped).every((t) => t.verified));
      const count = (table: TableName) => {
        const t = resumed.tables.find((r) => r.table === table)!;
        return [t.copied, t.alreadyThere];
      };
      assert.deepEqual(count('accounts'), [2, 5]);
      assert.deepEqual(count('blobs'), [1, 6]);
      assert.deepEqual(count('settings'), [1, 7]);
      assert.deepEqual(count('manifests'), [5, 2], 'four never copied, one changed');
      await assertSameRows(source, target);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('fails loudly on a table it does not know, before copying anything', async () => {
    const [source, target] = [await sqlite(), await sqlite()];
    try {
      await fill(source, 2);
      await sql`create table audit_log (id integer primary key, what text)`.execute(source.db);
      await assert.rejects(copyDatabase({ source, target }), /source database has table\(s\) audit_log that the copier does not know/);
      assert.equal((await rowsOf(target, 'accounts')).length, 0);
      await sql`create table audit_log (id integer primary key, what text)`.execute(target.db);
      await assert.rejects(checkTables(target, 'target'), /target database has table\(s\) audit_log/);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('refuses an integer it cannot keep exact rather than rounding it', async () => {
    const [source, target] = [await sqlite(), await sqlite()];
    try {
      // 2^53 + 1 is stored exactly by SQLite, but reads back as a rounded JavaScript number
      await sql`insert into blobs (digest, size, created_at) values (${digest(1)}, ${2n ** 53n + 1n}, 0)`.execute(source.db);
      await assert.rejects(copyDatabase({ source, target }), /table blobs, column size: 9007199254740992 is not an integer the copy can keep exact/);
    } finally {
      await source.close();
      await target.close();
    }
  });
});

describe('copyDatabase: PostgreSQL', await skipUnlessPostgres(), () => {
  let sqliteSource: MetadataDatabase;
  let postgres: MetadataDatabase;
  before(async () => {
    sqliteSource = await sqlite();
    await fill(sqliteSource, 12);
    postgres = await openTestPostgres();
  });
  after(async () => {
    await sqliteSource?.close();
    await postgres?.close();
  });

  it('copies SQLite into PostgreSQL exactly (bytea, bigint, text in byte order)', async () => {
    const report = await copyDatabase({ source: sqliteSource, target: postgres, batchRows: 5 });
    assert.deepEqual(report.problems, []);
    assert.ok(report.tables.filter((t) => !t.skipped).every((t) => t.verified && t.targetRows === t.sourceRows && t.sourceRows > 0));
    await assertSameRows(sqliteSource, postgres);
    const manifest = await postgres.db.selectFrom('manifests').select(['content', 'size']).where('digest', '=', digest(100)).executeTakeFirstOrThrow();
    assert.deepEqual(manifest.content, Buffer.concat([ALL_BYTES, Buffer.from([0])]));
    const blob = await postgres.db.selectFrom('blobs').select('size').where('digest', '=', digest(0)).executeTakeFirstOrThrow();
    assert.equal(blob.size, BIG);
    assert.deepEqual(await searchable(postgres, 'number'), await searchable(sqliteSource, 'number'));
    assert.equal((await searchable(postgres, 'number')).length, 12);
  });

  it('resumes into PostgreSQL, skipping the rows that are there and updating the ones that changed', async () => {
    await postgres.db.deleteFrom('blob_links').where('digest', '>', digest(8)).execute();
    await sqliteSource.db.updateTable('manifests').set({ content: Buffer.from([0, 255, 1]), annotations: null }).where('digest', '=', digest(101)).execute();
    await sqliteSource.db.updateTable('plans').set({ seats: 5, storage_bytes: BIG }).where('name', '=', 'plan-3').execute();
    const report = await copyDatabase({ source: sqliteSource, target: postgres, resume: true, batchRows: 4 });
    assert.deepEqual(report.problems, []);
    const counts = (table: TableName) => {
      const t = report.tables.find((r) => r.table === table)!;
      return [t.copied, t.alreadyThere];
    };
    assert.deepEqual(counts('blob_links'), [3, 9]);
    assert.deepEqual(counts('manifests'), [1, 11]);
    assert.deepEqual(counts('plans'), [1, 11]);
    assert.deepEqual(counts('team_members'), [0, 12], 'a table that is all key');
    await assertSameRows(sqliteSource, postgres);
  });

  it('copies PostgreSQL back into SQLite', async () => {
    const back = await sqlite();
    try {
      const report = await copyDatabase({ source: postgres, target: back, batchRows: 5 });
      assert.deepEqual(report.problems, []);
      await assertSameRows(postgres, back);
      await assertSameRows(sqliteSource, back);
      assert.deepEqual(await searchable(back, 'repository'), await searchable(postgres, 'repository'), 'the copy is searchable');
      assert.equal((await searchable(back, 'security')).length, 12);
    } finally {
      await back.close();
    }
  });

  it('moves serial and identity sequences past the largest copied value', async () => {
    const scratch = await openTestPostgres();
    try {
      // the schema's own (namespace_usage's identity), before these two
      const own = await resetSequences(scratch.db);
      await sql`create table counters (id bigint generated by default as identity primary key, n integer)`.execute(scratch.db);
      await sql`create table events (id serial primary key, n integer)`.execute(scratch.db);
      await sql`insert into counters (id, n) values (41, 1), (7, 2)`.execute(scratch.db);
      await sql`insert into events (id, n) values (9, 1)`.execute(scratch.db);
      assert.equal(await resetSequences(scratch.db), own + 2);
      const counter = await sql<{ id: number }>`insert into counters (n) values (3) returning id`.execute(scratch.db);
      const event = await sql<{ id: number }>`insert into events (n) values (3) returning id`.execute(scratch.db);
      assert.equal(Number(counter.rows[0]!.id), 42);
      assert.equal(event.rows[0]!.id, 10);
      // the copier itself refuses these tables: they are not in the schema
      await assert.rejects(checkTables(scratch, 'target'), /counters, events|events, counters/);
    } finally {
      await scratch.close();
    }
  });
});
