import { join } from 'node:path';
import { InstallationSecretError, SECRET_FILE_NAME } from '../auth/installation-secret.js';
import { SecretMismatchError } from '../auth/signing-keys.js';
import type { Config } from './config.js';

/**
 * What stops Pier from starting (and fails a line of `pier check`) because of the configuration or
 * the machine, worded once for both: one line that names the setting or the service (URLs without
 * their password) and says what to do. The CLI prints it without a stack trace; the stack is for
 * bugs, and for `--debug` (or PIER_LOG_LEVEL=debug).
 */
export class StartupProblem extends Error {
  override name = 'StartupProblem';
  constructor(
    readonly step: StartupStep,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What was being done: opening the data directory, the database, the storage; reading the secret; checking it against the signing keys; listening. */
export type StartupStep = 'data' | 'database' | 'storage' | 'secret' | 'keys' | 'listen';

/** Runs one step of a start; a user's mistake leaves it as a StartupProblem, anything else as it was. */
export async function startupStep<T>(step: StartupStep, config: Config, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw wordStartupProblem(step, error, config) ?? error;
  }
}

/**
 * The one wording of a start's failures: a StartupProblem when `error` is a mistake the user can
 * fix (a setting, a file, a service that does not answer), undefined when it is a bug.
 */
export function wordStartupProblem(step: StartupStep, error: unknown, config: Config): StartupProblem | undefined {
  if (error instanceof StartupProblem) return error;
  if (isBug(error)) return undefined;
  const message = wording(step, error, config);
  return message === undefined ? undefined : new StartupProblem(step, message, { cause: error });
}

const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);
const FILESYSTEM = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOSPC', 'EEXIST', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EDQUOT']);

function wording(step: StartupStep, error: unknown, config: Config): string | undefined {
  const { code, message } = firstCode(error);
  switch (step) {
    case 'data':
      if (code && FILESYSTEM.has(code)) return `the data directory ${config.data} cannot be used (${message}): make it writable by this user, or give another with --data or PIER_DATA`;
      return undefined;
    case 'database':
      return config.database.url ? postgres(config.database.url, error, code, message) : sqlite(join(config.data, 'pier.db'), code, message);
    case 'storage':
      // the stores' own checks say what is wrong with the bucket (or the directory) and what to do
      return describe(error);
    case 'secret':
      if (!(error instanceof InstallationSecretError)) return undefined;
      return config.auth.secretKeyFile ? `auth.secretKeyFile (PIER_SECRET_KEY_FILE): ${error.message}` : error.message;
    case 'keys': {
      if (!(error instanceof SecretMismatchError)) return undefined;
      const file = config.auth.secretKeyFile || join(config.data, SECRET_FILE_NAME);
      return (
        `the installation secret ${file} does not match the signing keys in the database (key ${error.kid} does not decrypt): ` +
        'start with the secret file this database was set up with (auth.secretKeyFile, PIER_SECRET_KEY_FILE: the same file on every replica); ' +
        'if it is lost, `pier keys reset --yes` makes new keys (access tokens issued so far stop working; docker logins and personal access tokens stay)'
      );
    }
    case 'listen': {
      const where = config.listen;
      if (code === 'EADDRINUSE') return `cannot listen on ${where}: the address is in use (another Pier, or another program, listens there): stop it, or choose another with --listen or PIER_LISTEN`;
      if (code === 'EACCES') return `cannot listen on ${where}: this user may not use that port (ports below 1024 need privileges): choose a port above 1023 with --listen or PIER_LISTEN, and put a proxy in front`;
      if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: this machine has no such address: choose one of its addresses (or 0.0.0.0) with --listen or PIER_LISTEN`;
      return undefined;
    }
  }
}

function postgres(url: string, error: unknown, code: string | undefined, message: string): string | undefined {
  const where = `PostgreSQL at ${location(url)}`;
  const user = safeUrl(url)?.username || 'the user';
  const setting = 'database.url (PIER_DATABASE_URL)';
  if ((code && NETWORK.has(code)) || /timeout|terminated unexpectedly|Connection terminated/i.test(message)) {
    return `${where} does not answer (${code ?? message}): start it, or fix ${setting}`;
  }
  switch (code) {
    case '28P01':
      return `${where} refused the password of "${user}": fix the password in ${setting}`;
    case '28000':
      return `${where} refused "${user}" (${message}): allow it in pg_hba.conf, or fix the user in ${setting}`;
    case '3D000':
      return `${where}: ${message}: create it (createdb), or fix ${setting}`;
    case '42501':
      return `${where}: ${message}: give "${user}" the right to create tables there, or run \`pier migrate\` as a user who may`;
  }
  if (/corrupted migrations/i.test(describe(error))) return `${where} was migrated by a newer version of Pier (${message}): run that version, or restore a backup`;
  if (/must start with postgres|invalid PostgreSQL schema name/.test(message)) return `${setting}: ${message}`;
  if (code?.startsWith('SSL') || /SSL|certificate/i.test(message)) return `${where}: ${message}: check the sslmode of ${setting}`;
  return undefined;
}

function sqlite(path: string, code: string | undefined, message: string): string | undefined {
  if (code === 'SQLITE_NOTADB') return `${path} is not a SQLite database: point data (PIER_DATA) at Pier's data directory`;
  if (code === 'SQLITE_CORRUPT') return `${path} is damaged (${message}): restore it from a backup`;
  if ((code && FILESYSTEM.has(code)) || (code?.startsWith('SQLITE_') && /CANTOPEN|READONLY|PERM|FULL|IOERR|BUSY|AUTH/.test(code))) {
    return `the SQLite database ${path} cannot be opened (${code}: ${message}): check the data directory (data, PIER_DATA) and that this user may write there`;
  }
  return undefined;
}

/** Programming errors: a stack is what their reader needs. */
function isBug(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError || error instanceof RangeError || (error as Error)?.name === 'AssertionError';
}

/** The first error code along the cause chain (a system errno, a PostgreSQL SQLSTATE, SQLite's), with that error's message. */
function firstCode(error: unknown): { code?: string; message: string } {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return { code, message: (current as Error).message || code };
  }
  return { message: describe(error) };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** `user@host:port/database?schema=name`: the URL without its password and other parameters. */
function location(url: string): string {
  const parsed = safeUrl(url);
  if (!parsed) return '(an unparsable URL)';
  const schema = parsed.searchParams.get('schema');
  return `${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}${schema ? `?schema=${schema}` : ''}`;
}
