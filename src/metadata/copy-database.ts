import { createHash } from 'node:crypto';
import { sql, type Kysely, type SqlBool } from 'kysely';
import type { MetadataDatabase } from './database.js';
import type { DialectName } from './dialect.js';
import { isDerivedSearchTable } from './full-text.js';
import type { Database } from './schema.js';

/**
 * Copies every row of one metadata database into another (SQLite to PostgreSQL, or back), for
 * `pier migrate-storage`. Both databases are already migrated to the same version. Rows are read in
 * primary-key order (keyset pages), written in one transaction per page, and the copy is verified
 * at the end: row counts and a checksum of every row, per table.
 */

export interface TablePlan {
  /** the primary key: rows are paged, and a resumed copy matches rows, by it */
  key: readonly string[];
  /** why the rows of this table are not moved, when they are not */
  skip?: string;
  /** not copied: the target's triggers write these rows as the tables they follow are copied; verified as if copied */
  derived?: string;
}

type Plans = { [T in keyof Database]: { key: readonly (keyof Database[T] & string)[]; skip?: string; derived?: string } };

/**
 * Every table of the schema (src/metadata/schema.ts), parents before children. The type makes a
 * table added to the schema a compile error here until it is planned; a table that a migration
 * creates without being in the schema is refused when the copy starts (`checkTables`).
 */
export const TABLES = {
  accounts: { key: ['name'] },
  access_tokens: { key: ['id'] },
  refresh_tokens: { key: ['id'] },
  browser_sessions: { key: ['id'] },
  signing_keys: { key: ['kid'] },
  settings: { key: ['key'] },
  repositories: { key: ['name'] },
  hub_repositories: { key: ['name'] },
  blobs: { key: ['digest'] },
  blob_links: { key: ['repository', 'digest'] },
  manifests: { key: ['repository', 'digest'] },
  manifest_references: { key: ['repository', 'manifest_digest', 'digest', 'kind'] },
  tags: { key: ['repository', 'name'] },
  organization_members: { key: ['organization', 'account'] },
  teams: { key: ['organization', 'name'] },
  team_members: { key: ['organization', 'team', 'account'] },
  team_permissions: { key: ['organization', 'team', 'repository'] },
  plans: { key: ['name'] },
  repository_pulls: { key: ['repository'] },
  tag_pulls: { key: ['repository', 'tag'] },
  outbox: { key: ['id'] },
  manifest_details: { key: ['repository', 'digest'] },
  categories: { key: ['slug'] },
  repository_categories: { key: ['repository', 'category'] },
  stars: { key: ['account', 'repository'] },
  repository_pull_days: { key: ['repository', 'day'] },
  repository_readmes: { key: ['repository'] },
  proxies: { key: ['namespace'] },
  proxy_tags: { key: ['repository', 'tag'] },
  proxy_repositories: { key: ['repository'] },
  replication_rules: { key: ['name'] },
  replication_runs: { key: ['id'] },
  webhooks: { key: ['id'] },
  webhook_deliveries: { key: ['id'] },
  webhook_attempts: { key: ['delivery', 'attempt'] },
  audit_events: { key: ['id'] },
  gc_runs: { key: ['id'] },
  immutable_tag_rules: { key: ['repository', 'pattern'] },
  retention_policies: { key: ['scope', 'target'] },
  retention_runs: { key: ['id'] },
  namespace_blobs: { key: ['namespace', 'digest'], derived: 'kept by triggers on blob_links (migration 015)' },
  namespace_manifests: { key: ['namespace', 'digest'], derived: 'kept by triggers on manifests (migration 015)' },
  namespace_usage: {
    key: ['id'],
    skip: 'changes of each namespace’s bytes, written by the triggers of migration 015 as blob_links and manifests are copied (their sums follow namespace_blobs and namespace_manifests, which are verified)',
  },
  leases: { key: ['name'], skip: 'a lease is held by a process of the old installation; none holds one in the new' },
  uploads: {
    key: ['id'],
    skip: 'upload sessions in flight are not moved (their bytes stay in the old store); clients retry the push',
  },
} as const satisfies Plans;

export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

export class DatabaseCopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseCopyError';
  }
}

export interface TableReport {
  table: TableName;
  /** set when the table is not copied, with the reason */
  skipped?: string;
  sourceRows: number;
  /** rows written to the target by this run (inserted, or updated by a resumed copy) */
  copied: number;
  /** rows the target held already with the same values (a resumed copy) */
  alreadyThere: number;
  targetRows: number;
  /** row counts and row checksums agree */
  verified: boolean;
}

export interface DatabaseCopyReport {
  tables: TableReport[];
  /** PostgreSQL sequences and identity columns moved past the copied rows */
  sequencesReset: number;
  /** one line per table whose copy does not match its source */
  problems: string[];
}

export type DatabaseCopyProgress = { table: TableName; copied: number; alreadyThere: number; sourceRows: number; done: boolean };

export interface CopyDatabaseOptions {
  source: MetadataDatabase;
  target: MetadataDatabase;
  /** copy into a target that holds data already: a row whose key it has is updated to the source's values where they differ */
  resume?: boolean;
  /** rows read per page at most (default 1000); fewer when rows are large */
  batchRows?: number;
  onProgress?: (progress: DatabaseCopyProgress) => void;
}

/** Rows are read in pages of about this many bytes at most (manifests can be megabytes each). */
const PAGE_BYTES = 16 * 1024 * 1024;
/** Bound parameters per INSERT: below SQLite's 32766 and PostgreSQL's 65535. */
const MAX_PARAMETERS = 30_000;

type Row = Record<string, unknown>;
// The tables are chosen at run time: a loosely typed view of the same connection.
type AnyDb = Kysely<any>;

/**
 * What must hold before a row is copied: both databases have exactly the tables the copier knows,
 * with the same columns, and the target is empty unless the copy resumes. Returns the columns.
 */
export async function checkCopy(options: Pick<CopyDatabaseOptions, 'source' | 'target' | 'resume'>): Promise<Map<TableName, string[]>> {
  const sourceColumns = await checkTables(options.source, 'source');
  const targetColumns = await checkTables(options.target, 'target');
  for (const table of TABLE_NAMES) {
    const a = sourceColumns.get(table)!.join(', ');
    const b = targetColumns.get(table)!.join(', ');
    if (a !== b) throw new DatabaseCopyError(`table ${table} has columns (${a}) in the source but (${b}) in the target: both must be migrated to the same version`);
  }
  if (!options.resume) {
    const holding: string[] = [];
    for (const table of TABLE_NAMES) {
      const rows = await countRows(options.target.db as AnyDb, table);
      if (rows > 0) holding.push(`${table} (${rows})`);
    }
    if (holding.length > 0) {
      throw new DatabaseCopyError(`the target database holds data already: ${holding.join(', ')}; use --resume to continue an interrupted copy into it`);
    }
  }
  return sourceColumns;
}

export async function copyDatabase(options: CopyDatabaseOptions): Promise<DatabaseCopyReport> {
  const source = options.source.db as AnyDb;
  const target = options.target.db as AnyDb;
  const sourceColumns = await checkCopy(options);

  const reports: TableReport[] = [];
  for (const table of TABLE_NAMES) {
    const plan: TablePlan = TABLES[table];
    const sourceRows = await countRows(source, table);
    if (plan.skip) {
      reports.push({ table, skipped: plan.skip, sourceRows, copied: 0, alreadyThere: 0, targetRows: await countRows(target, table), verified: true });
      continue;
    }
    if (plan.derived) {
      reports.push({ table, sourceRows, copied: 0, alreadyThere: 0, targetRows: 0, verified: false });
      continue;
    }
    const columns = sourceColumns.get(table)!;
    let copied = 0;
    let alreadyThere = 0;
    for await (const page of readPages(source, table, plan.key, columns, options.batchRows ?? 1000)) {
      for (const row of page) checkValues(table, row);
      const inserted = await insertPage(target, table, plan.key, columns, page, options.resume === true, options.target.dialect);
      copied += inserted;
      alreadyThere += page.length - inserted;
      options.onProgress?.({ table, copied, alreadyThere, sourceRows, done: false });
    }
    options.onProgress?.({ table, copied, alreadyThere, sourceRows, done: true });
    reports.push({ table, sourceRows, copied, alreadyThere, targetRows: 0, verified: false });
  }

  const sequencesReset = options.target.dialect === 'postgres' ? await resetSequences(options.target.db) : 0;

  const problems: string[] = [];
  for (const report of reports) {
    if (report.skipped) continue;
    const plan: TablePlan = TABLES[report.table];
    const columns = sourceColumns.get(report.table)!;
    const [a, b] = await Promise.all([tableChecksum(source, report.table, plan.key, columns), tableChecksum(target, report.table, plan.key, columns)]);
    report.sourceRows = a.rows;
    report.targetRows = b.rows;
    report.verified = a.rows === b.rows && a.checksum === b.checksum;
    if (a.rows !== b.rows) problems.push(`table ${report.table}: ${a.rows} rows in the source, ${b.rows} in the target`);
    else if (a.checksum !== b.checksum) problems.push(`table ${report.table}: the target's rows differ from the source's (same count, ${a.rows})`);
  }
  return { tables: reports, sequencesReset, problems };
}

/**
 * The tables of the database's own schema with their columns (sorted), Kysely's bookkeeping
 * excepted. Fails on a table the copier does not know, or a known one that is missing.
 */
export async function checkTables(database: MetadataDatabase, side: string): Promise<Map<TableName, string[]>> {
  const found = await listColumns(database);
  const unknown = [...found.keys()].filter((table) => !(table in TABLES));
  if (unknown.length > 0) {
    throw new DatabaseCopyError(
      `the ${side} database has table(s) ${unknown.join(', ')} that the copier does not know: add them to src/metadata/schema.ts and TABLES in src/metadata/copy-database.ts`,
    );
  }
  const missing = TABLE_NAMES.filter((table) => !found.has(table));
  if (missing.length > 0) throw new DatabaseCopyError(`the ${side} database lacks table(s) ${missing.join(', ')}: is it migrated?`);
  return found as Map<TableName, string[]>;
}

async function listColumns(database: MetadataDatabase): Promise<Map<string, string[]>> {
  const rows =
    database.dialect === 'postgres'
      ? (
          await sql<{ table_name: string; column_name: string }>`
            select c.table_name, c.column_name from information_schema.columns c
            join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.table_schema = current_schema() and t.table_type = 'BASE TABLE' and c.is_generated <> 'ALWAYS'`.execute(database.db)
        ).rows
      : (
          await sql<{ table_name: string; column_name: string }>`
            select m.name as table_name, p.name as column_name
            from sqlite_master m join pragma_table_info(m.name) p
            where m.type = 'table' and m.name not like 'sqlite\\_%' escape '\\'`.execute(database.db)
        ).rows;
  const tables = new Map<string, string[]>();
  for (const { table_name: table, column_name: column } of rows) {
    // derived from the rows they index (full-text search): rebuilt by the target, never copied
    if (table.startsWith('kysely_migration') || isDerivedSearchTable(table)) continue;
    let columns = tables.get(table);
    if (!columns) tables.set(table, (columns = []));
    columns.push(column);
  }
  for (const columns of tables.values()) columns.sort();
  return tables;
}

async function countRows(db: AnyDb, table: string): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * The table's rows in key order, a page at a time: `where (key) > (last key of the page before)`,
 * so each page is an index range scan however far the copy has come. A page holds up to
 * `batchRows` rows, fewer when its rows are large.
 */
export async function* readPages(db: AnyDb, table: string, key: readonly string[], columns: readonly string[], batchRows: number): AsyncGenerator<Row[]> {
  let limit = batchRows;
  let after: unknown[] | undefined;
  for (;;) {
    let query = db.selectFrom(table).select(columns as string[]);
    if (after) {
      const last = after;
      query =
        key.length === 1
          ? query.where(key[0]!, '>', last[0])
          : query.where(({ eb, refTuple, tuple }) =>
              // Kysely types tuples of 2 to 5 elements; our keys have 1 to 4 columns
              eb((refTuple as (...refs: string[]) => any)(...key), '>', (tuple as (...values: unknown[]) => any)(...last)),
            );
    }
    for (const column of key) query = query.orderBy(column);
    const rows = (await query.limit(limit).execute()) as Row[];
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < limit) return;
    after = key.map((column) => rows[rows.length - 1]![column]);
    // keep a page near PAGE_BYTES: halve it after a heavy page, grow it back after light ones
    const bytes = rows.reduce((sum, row) => sum + rowBytes(row), 0);
    if (bytes > PAGE_BYTES) limit = Math.max(1, Math.floor(limit / 2));
    else if (bytes < PAGE_BYTES / 4) limit = Math.min(batchRows, limit * 2);
  }
}

function rowBytes(row: Row): number {
  let bytes = 0;
  for (const value of Object.values(row)) bytes += Buffer.isBuffer(value) ? value.length : typeof value === 'string' ? value.length * 2 : 8;
  return bytes;
}

/** Values are moved as they are; a number that lost precision on the way in is refused, not rounded. */
function checkValues(table: string, row: Row): void {
  for (const [column, value] of Object.entries(row)) {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new DatabaseCopyError(`table ${table}, column ${column}: ${value} is not an integer the copy can keep exact (|n| < 2^53)`);
    }
    if (typeof value === 'bigint') throw new DatabaseCopyError(`table ${table}, column ${column}: unexpected bigint value ${value}`);
  }
}

/**
 * Inserts one page in one transaction and resolves to the rows written. With `resume`, a row
 * whose primary key is there already is updated to the source's values when any differs (the
 * source changed after an interrupted run), else left as it is and not counted: a rerun fixes
 * what changed and rewrites nothing else. A table that is all key has nothing to update.
 * (A conflict on another unique column, a token hash, would still fail the page: such values
 * are random and never move from one key to another.)
 */
async function insertPage(
  db: AnyDb,
  table: string,
  key: readonly string[],
  columns: readonly string[],
  rows: Row[],
  resume: boolean,
  dialect: DialectName,
): Promise<number> {
  const perInsert = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  const values = columns.filter((column) => !key.includes(column));
  // null-safe comparisons: PostgreSQL's IS DISTINCT FROM is SQLite's IS NOT
  const differs = sql.join(
    values.map((column) =>
      dialect === 'postgres'
        ? sql`${sql.ref(`${table}.${column}`)} is distinct from ${sql.ref(`excluded.${column}`)}`
        : sql`${sql.ref(`${table}.${column}`)} is not ${sql.ref(`excluded.${column}`)}`,
    ),
    sql` or `,
  );
  return db.transaction().execute(async (trx) => {
    let written = 0;
    for (let i = 0; i < rows.length; i += perInsert) {
      let insert = trx.insertInto(table).values(rows.slice(i, i + perInsert));
      if (resume && values.length === 0) insert = insert.onConflict((oc) => oc.doNothing());
      else if (resume) {
        insert = insert.onConflict((oc) =>
          oc
            .columns([...key])
            .doUpdateSet((eb) => Object.fromEntries(values.map((column) => [column, eb.ref(`excluded.${column}`)])))
            .where(sql<SqlBool>`${differs}`),
        );
      }
      const result = await insert.executeTakeFirst();
      written += Number(result.numInsertedOrUpdatedRows ?? 0n);
    }
    return written;
  });
}

/**
 * Moves every sequence behind a serial or identity column of the current schema past the largest
 * value copied, so the next generated id does not collide. (Pier's tables use none today; a
 * future one would.) Returns how many were reset.
 */
export async function resetSequences(db: Kysely<any>): Promise<number> {
  const { rows } = await sql<{ table_name: string; column_name: string; sequence: string | null }>`
    select c.table_name, c.column_name, pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) as sequence
    from information_schema.columns c
    where c.table_schema = current_schema() and (c.is_identity = 'YES' or c.column_default like 'nextval(%')`.execute(db);
  let reset = 0;
  for (const { table_name: table, column_name: column, sequence } of rows) {
    if (!sequence) continue;
    await sql`select setval(${sequence}, coalesce((select max(${sql.ref(column)}) from ${sql.table(table)}), 0) + 1, false)`.execute(db);
    reset++;
  }
  return reset;
}

/**
 * Row count and a checksum of a table that do not depend on row order or on the database's types:
 * each row is encoded canonically (columns by name; null, integer, text, bytes told apart), and
 * the SHA-256 of the rows are added up modulo 2^256.
 */
export async function tableChecksum(db: AnyDb, table: string, key: readonly string[], columns: readonly string[]): Promise<{ rows: number; checksum: string }> {
  const modulus = 1n << 256n;
  let sum = 0n;
  let rows = 0;
  for await (const page of readPages(db, table, key, columns, 1000)) {
    for (const row of page) {
      const hash = createHash('sha256');
      for (const column of columns) {
        const value = row[column];
        hash.update(`${column}\u0000`);
        if (value === null || value === undefined) hash.update('n');
        else if (Buffer.isBuffer(value) || value instanceof Uint8Array) hash.update(`b${value.length}:`).update(value);
        else if (typeof value === 'number' || typeof value === 'bigint') hash.update(`i${value}`);
        else if (typeof value === 'string') hash.update(`s${Buffer.byteLength(value)}:${value}`);
        else hash.update(`j${JSON.stringify(value)}`);
        hash.update('\u0000');
      }
      sum = (sum + BigInt(`0x${hash.digest('hex')}`)) % modulus;
      rows++;
    }
  }
  return { rows, checksum: sum.toString(16).padStart(64, '0') };
}

/** Every blob the index knows (digest and size), in digest order, a page at a time. */
export async function* indexedBlobs(database: MetadataDatabase): AsyncGenerator<{ digest: string; size: number }> {
  for await (const page of readPages(database.db as AnyDb, 'blobs', TABLES.blobs.key, ['digest', 'size'], 1000)) {
    for (const row of page) yield { digest: row.digest as string, size: Number(row.size) };
  }
}

/** How many blobs the index knows, and their bytes. */
export async function indexedBlobTotals(database: MetadataDatabase): Promise<{ blobs: number; bytes: number }> {
  const row = await database.db
    .selectFrom('blobs')
    .select((eb) => [eb.fn.countAll().as('blobs'), eb.fn.sum<number | string | null>('size').as('bytes')])
    .executeTakeFirstOrThrow();
  return { blobs: Number(row.blobs), bytes: Number(row.bytes ?? 0) };
}

