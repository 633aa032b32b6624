import { constants } from 'node:fs';
import { access, open, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DEFAULT_MIGRATION_TABLE } from 'kysely';

/**
 * A database looked at without changing it: does it exist, which migrations are applied, could
 * Pier create what is missing. `pier check` and `pier migrate` use it; nothing here creates a
 * file, a schema or a table (see inspectSqlite for why that takes care on SQLite).
 */
export interface DatabaseState {
  kind: 'sqlite' | 'postgres';
  /** the file, or the URL without password and parameters (and the schema) */
  location: string;
  /** false while the SQLite file or the PostgreSQL schema does not exist */
  exists: boolean;
  /** migrations recorded as applied */
  applied: string[];
  /** whether Pier could create what is missing (the file's directory, the schema, the tables) */
  creatable: boolean;
  /** the signing keys of access tokens, as stored (encrypted), when there is a table of them */
  signingKeys: StoredKey[];
}

/** A row of `signing_keys`, enough to tell whether a secret decrypts it. */
export interface StoredKey {
  kid: string;
  privateJwkEncrypted: string;
  retiredAt: number | null;
}

const KEYS_QUERY = 'select kid, private_jwk_encrypted, retired_at from signing_keys order by created_at, kid';
type KeyRow = { kid: string; private_jwk_encrypted: string; retired_at: number | string | null };
const toKey = (row: KeyRow): StoredKey => ({ kid: row.kid, privateJwkEncrypted: row.private_jwk_encrypted, retiredAt: row.retired_at === null ? null : Number(row.retired_at) });

/** Migrations this version has and the database has not, and ones the database has that this version does not know. */
export async function migrationStatus(applied: readonly string[]): Promise<{ known: string[]; pending: string[]; unknown: string[] }> {
  const { MIGRATIONS } = await import('./migrations/index.js');
  const known = MIGRATIONS.map((m) => m.name);
  return { known, pending: known.filter((n) => !applied.includes(n)), unknown: applied.filter((n) => !known.includes(n)) };
}

/** The database a config names (PIER_DATABASE_URL, else `<dataDir>/pier.db`), inspected without changing it. */
export function inspectDatabase(url: string | undefined, dataDir: string): Promise<DatabaseState> {
  return url ? inspectPostgres(url) : inspectSqlite(join(dataDir, 'pier.db'));
}

async function inspectPostgres(url: string): Promise<DatabaseState> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  const location = `${parsed.protocol}//${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}${schema ? `?schema=${schema}` : ''}`;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: parsed.toString(), connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  client.on('error', () => {}); // a connection lost mid-check fails the query that was waiting
  try {
    await client.connect();
    await client.query('select 1');
    const target = schema ?? (await client.query<{ schema: string | null }>('select current_schema() as schema')).rows[0]?.schema;
    if (!target) throw new Error('no schema to create tables in: the search_path names none that exists');
    const table = `${client.escapeIdentifier(target)}.${client.escapeIdentifier(DEFAULT_MIGRATION_TABLE)}`;
    const keys = `${client.escapeIdentifier(target)}.signing_keys`;
    const found = await client.query<{ exists: boolean; create_schema: boolean; create_table: boolean | null; migrated: boolean; keys: boolean }>(
      `select exists (select 1 from pg_namespace where nspname = $1) as exists,
              has_database_privilege(current_database(), 'CREATE') as create_schema,
              case when exists (select 1 from pg_namespace where nspname = $1) then has_schema_privilege($1, 'CREATE') end as create_table,
              to_regclass($2) is not null as migrated,
              to_regclass($3) is not null as keys`,
      [target, table, keys],
    );
    const row = found.rows[0]!;
    const applied = row.migrated ? (await client.query<{ name: string }>(`select name from ${table} order by name`)).rows.map((r) => r.name) : [];
    const signingKeys = row.keys ? (await client.query<KeyRow>(KEYS_QUERY.replace('signing_keys', keys))).rows.map(toKey) : [];
    return { kind: 'postgres', location, exists: row.exists, applied, creatable: row.exists ? row.create_table === true : row.create_schema, signingKeys };
  } catch (error) {
    throw new Error(`${location}: ${(error as Error).message || String(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}

/** Above this a stopped server's database is not read into memory: only its header is checked. */
const SQLITE_READ_LIMIT = 1024 * 1024 * 1024;

/**
 * Opening a WAL database, even read-only, creates its -wal and -shm files when they are missing
 * (and as the user running the check: root-owned files would lock a server out). So a running
 * server's database (both files there) is opened read-only, and a stopped one is read into memory.
 */
async function inspectSqlite(path: string): Promise<DatabaseState> {
  const base = { kind: 'sqlite' as const, location: path };
  const size = await stat(path).then(
    (s) => {
      if (!s.isFile()) throw new Error(`${path} is not a file`);
      return s.size;
    },
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    },
  );
  if (size === undefined) return { ...base, exists: false, applied: [], creatable: await creatableDirectory(dirname(path)), signingKeys: [] };

  const { default: SQLite } = await import('better-sqlite3');
  const running = (await exists(`${path}-wal`)) && (await exists(`${path}-shm`));
  let database: InstanceType<typeof SQLite>;
  if (running) {
    database = new SQLite(path, { readonly: true, fileMustExist: true });
  } else if (size > SQLITE_READ_LIMIT) {
    await checkSqliteHeader(path);
    throw new Error(`${path}: a valid SQLite header, but too large (${Math.round(size / 2 ** 20)} MiB) to read while the server is stopped; start it, then check again`);
  } else {
    const image = await readFile(path);
    checkHeader(image, path);
    // the copy in memory has no -wal beside it: mark it a rollback-journal database (bytes 18-19)
    image[18] = 1;
    image[19] = 1;
    database = new SQLite(image, { readonly: true });
  }
  try {
    database.prepare('select 1').get();
    const tableExists = (name: string) => database.prepare("select name from sqlite_master where type = 'table' and name = ?").get(name) !== undefined;
    const applied = tableExists(DEFAULT_MIGRATION_TABLE)
      ? (database.prepare(`select name from "${DEFAULT_MIGRATION_TABLE}" order by name`).all() as Array<{ name: string }>).map((r) => r.name)
      : [];
    const signingKeys = tableExists('signing_keys') ? (database.prepare(KEYS_QUERY).all() as KeyRow[]).map(toKey) : [];
    const creatable = await access(path, constants.W_OK).then(
      () => true,
      () => false,
    );
    return { ...base, exists: true, applied, creatable, signingKeys };
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    database.close();
  }
}

const SQLITE_MAGIC = 'SQLite format 3\0';

function checkHeader(bytes: Buffer, path: string): void {
  if (bytes.subarray(0, 16).toString('latin1') !== SQLITE_MAGIC) throw new Error(`${path} is not a SQLite database`);
}

async function checkSqliteHeader(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const { buffer } = await handle.read({ buffer: Buffer.alloc(16), position: 0 });
    checkHeader(buffer, path);
  } finally {
    await handle.close();
  }
}

/** Whether the nearest existing ancestor of `path` is a directory this user may create entries in. */
export async function creatableDirectory(path: string): Promise<boolean> {
  let current = path;
  for (;;) {
    const info = await stat(current).catch(() => undefined);
    if (info) {
      if (!info.isDirectory()) return false;
      return access(current, constants.W_OK | constants.X_OK).then(
        () => true,
        () => false,
      );
    }
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
