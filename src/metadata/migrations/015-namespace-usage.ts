import { sql, type Kysely } from 'kysely';
import type { Migration } from '../dialect.js';
import { notNull } from '../dialect.js';

/**
 * The storage a namespace holds, kept as it changes, so that a quota check costs the same in a
 * namespace of ten manifests as in one of ten thousand (hub/usage.ts; issue 14). What it counts
 * is what the full query counted: each distinct blob linked into a repository of the namespace
 * once (a layer shared by two repositories counts once), and each distinct manifest once.
 *
 * Triggers on `blob_links` and `manifests` keep it, in the transaction of every statement that
 * links, unlinks, stores or deletes, whoever runs it (a push, a mount, a deletion, the collector,
 * the pull-through cache, replication, copy-database): no writer can forget it.
 * - `namespace_blobs` / `namespace_manifests`: per namespace and digest, how many rows hold it
 *   (links, or manifests in several repositories) and its size. A digest starts counting when
 *   its first row in the namespace appears and stops when its last goes.
 * - `namespace_usage`: the changes of the namespace's bytes, one row per change, added up when
 *   read (NamespaceUsage.storageBytes folds them back into one row now and then). Rows that are
 *   only ever inserted: concurrent pushes into one namespace on PostgreSQL never wait for one
 *   another on a shared total, nor deadlock on it.
 * A repository's namespace is the part of its name before the first `/`; a name without one is
 * in no namespace (as the range "namespace/".."namespace0" of the full query).
 */
export const namespaceUsage: Migration = {
  name: '015-namespace-usage',
  async up(db, t) {
    for (const table of ['namespace_blobs', 'namespace_manifests'] as const) {
      await db.schema
        .createTable(table)
        .addColumn('namespace', t.key, notNull)
        .addColumn('digest', t.key, notNull)
        .addColumn('holders', t.bigint, notNull)
        .addColumn('size', t.bigint, notNull)
        .addPrimaryKeyConstraint(`${table}_pk`, ['namespace', 'digest'])
        .execute();
    }
    await db.schema
      .createTable('namespace_usage')
      .addColumn('id', t.dialect === 'postgres' ? sql`bigint generated always as identity primary key` : sql`integer primary key`)
      .addColumn('namespace', t.key, notNull)
      .addColumn('bytes', t.bigint, notNull)
      .execute();
    await db.schema.createIndex('namespace_usage_namespace').on('namespace_usage').column('namespace').execute();

    // what the namespaces hold now, counted as the full query counted it
    const ns = namespaceExpression(t.dialect, 'repository');
    await sql
      .raw(
        `insert into namespace_blobs (namespace, digest, holders, size)
         select ${ns}, l.digest, count(*), coalesce(max(b.size), 0) from blob_links l left join blobs b on b.digest = l.digest
         where ${hasNamespace(t.dialect, 'l.repository')} group by ${ns}, l.digest`,
      )
      .execute(db);
    await sql
      .raw(
        `insert into namespace_manifests (namespace, digest, holders, size)
         select ${ns}, digest, count(*), max(size) from manifests
         where ${hasNamespace(t.dialect, 'repository')} group by ${ns}, digest`,
      )
      .execute(db);
    await sql
      .raw(
        `insert into namespace_usage (namespace, bytes)
         select namespace, sum(size) from (select namespace, size from namespace_blobs union all select namespace, size from namespace_manifests) held group by namespace`,
      )
      .execute(db);

    await createTriggers(db, t.dialect);
  },
};

type Counted = { table: 'blob_links' | 'manifests'; refs: 'namespace_blobs' | 'namespace_manifests'; size: (row: 'new' | 'old') => string };

const COUNTED: Counted[] = [
  // a link's size is its blob's: the row exists before any link to it (RegistryIndex.link)
  { table: 'blob_links', refs: 'namespace_blobs', size: (row) => `coalesce((select size from blobs where digest = ${row}.digest), 0)` },
  { table: 'manifests', refs: 'namespace_manifests', size: (row) => `${row}.size` },
];

function namespaceExpression(dialect: 'sqlite' | 'postgres', column: string): string {
  return dialect === 'postgres' ? `split_part(${column}, '/', 1)` : `substr(${column}, 1, instr(${column}, '/') - 1)`;
}

function hasNamespace(dialect: 'sqlite' | 'postgres', column: string): string {
  return dialect === 'postgres' ? `strpos(${column}, '/') > 0` : `instr(${column}, '/') > 0`;
}

async function createTriggers(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  for (const c of COUNTED) {
    if (dialect === 'postgres') {
      await sql.raw(postgresFunction(c)).execute(db);
      await sql
        .raw(`create trigger ${c.table}_usage after insert or delete or update of repository, digest on ${c.table} for each row execute function ${c.table}_usage()`)
        .execute(db);
      continue;
    }
    const add = sqliteAdd(c, 'new');
    const remove = sqliteRemove(c, 'old');
    await sql.raw(`create trigger ${c.table}_usage_insert after insert on ${c.table} begin ${add} end`).execute(db);
    await sql.raw(`create trigger ${c.table}_usage_delete after delete on ${c.table} begin ${remove} end`).execute(db);
    await sql.raw(`create trigger ${c.table}_usage_update after update of repository, digest on ${c.table} begin ${remove} ${add} end`).execute(db);
  }
}

// SQLite: one writer at a time, so each step reads what the previous one wrote. Rows of names
// without a namespace match nothing (`has`).
function sqliteAdd(c: Counted, row: 'new'): string {
  const ns = namespaceExpression('sqlite', `${row}.repository`);
  const has = hasNamespace('sqlite', `${row}.repository`);
  return `
    insert into ${c.refs} (namespace, digest, holders, size) select ${ns}, ${row}.digest, 1, ${c.size(row)} where ${has}
      on conflict (namespace, digest) do update set holders = holders + 1;
    insert into namespace_usage (namespace, bytes) select namespace, size from ${c.refs}
      where ${has} and namespace = ${ns} and digest = ${row}.digest and holders = 1;`;
}

function sqliteRemove(c: Counted, row: 'old'): string {
  const ns = namespaceExpression('sqlite', `${row}.repository`);
  const has = hasNamespace('sqlite', `${row}.repository`);
  return `
    update ${c.refs} set holders = holders - 1 where ${has} and namespace = ${ns} and digest = ${row}.digest;
    insert into namespace_usage (namespace, bytes) select namespace, -size from ${c.refs}
      where ${has} and namespace = ${ns} and digest = ${row}.digest and holders = 0;
    delete from ${c.refs} where ${has} and namespace = ${ns} and digest = ${row}.digest and holders = 0;`;
}

// PostgreSQL: the upsert and the update lock the namespace's row of the digest, so two
// transactions linking (or unlinking) the same digest in one namespace take turns there, and
// exactly one of them sees the count go from 0 to 1 (or 1 to 0).
function postgresFunction(c: Counted): string {
  return `create function ${c.table}_usage() returns trigger language plpgsql as $$
declare
  ns text;
  n bigint;
  s bigint;
begin
  if tg_op in ('DELETE', 'UPDATE') and strpos(old.repository, '/') > 0 then
    ns := split_part(old.repository, '/', 1);
    update ${c.refs} set holders = holders - 1 where namespace = ns and digest = old.digest returning holders, size into n, s;
    if n = 0 then
      delete from ${c.refs} where namespace = ns and digest = old.digest;
      insert into namespace_usage (namespace, bytes) values (ns, -s);
    end if;
  end if;
  if tg_op in ('INSERT', 'UPDATE') and strpos(new.repository, '/') > 0 then
    ns := split_part(new.repository, '/', 1);
    insert into ${c.refs} as r (namespace, digest, holders, size) values (ns, new.digest, 1, ${c.size('new')})
      on conflict (namespace, digest) do update set holders = r.holders + 1 returning holders, size into n, s;
    if n = 1 then
      insert into namespace_usage (namespace, bytes) values (ns, s);
    end if;
  end if;
  return null;
end $$`;
}
