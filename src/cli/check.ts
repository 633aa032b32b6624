import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InstallationSecretError, readSecretFile, SECRET_FILE_NAME } from '../auth/installation-secret.js';
import { checkSecretDecrypts, SecretMismatchError } from '../auth/signing-keys.js';
import { creatableDirectory, inspectDatabase, migrationStatus, type DatabaseState } from '../metadata/inspect.js';
import { ConfigError, loadConfig, type Config } from '../server/config.js';
import { wordStartupProblem, type StartupStep } from '../server/startup-problems.js';
import { CliError } from './errors.js';

/**
 * `pier check`: the config, then every backend it names, one line each. It changes nothing: no
 * data directory, database file, schema or migration is created, so it is safe to run against a
 * production installation, running or stopped, and before the first start.
 */
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('verify the configuration and that every backend answers (database, storage, Redis, TLS files); changes nothing; exit 1 on a failure')
    .option('--data <dir>', 'data directory (PIER_DATA, default ./data)')
    .option('--config <file>', 'YAML or JSON config file (PIER_CONFIG)')
    .action(async (flags: { data?: string; config?: string }) => {
      const results = await runChecks(flags, (line) => process.stdout.write(`${line}\n`));
      const failed = results.filter((r) => r.status === 'FAIL').length;
      if (failed > 0) throw new CliError(`${failed} of ${results.length} checks failed`, 1);
    });
}

export interface CheckResult {
  name: string;
  status: 'ok' | 'FAIL' | 'skip';
  detail: string;
}

/** A check resolves to what it found (or skip), and throws why it failed. */
type Probe = () => Promise<string | { skip: string }>;

/** Runs the checks in order, printing each line as it is known. */
export async function runChecks(flags: { data?: string; config?: string }, print: (line: string) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const report = (result: CheckResult) => {
    results.push(result);
    const [first = '', ...rest] = result.detail.split('\n');
    print(`${result.status.padEnd(5)}${result.name.padEnd(10)}${first}`);
    for (const line of rest) print(`${' '.repeat(15)}${line.trimStart()}`);
  };

  let config: Config;
  try {
    config = loadConfig({ file: flags.config, overrides: { data: flags.data } });
  } catch (error) {
    report({ name: 'config', status: 'FAIL', detail: error instanceof ConfigError ? error.message : String(error) });
    return results;
  }
  const file = flags.config ?? process.env.PIER_CONFIG;
  report({ name: 'config', status: 'ok', detail: `${file ?? 'no config file'}; data ${config.data}; auth ${config.auth.mode}` });

  // what the database holds, for the secret's check (does it decrypt the signing keys?)
  let database: DatabaseState | undefined;
  const probes: Array<[string, StartupStep | undefined, Probe]> = [
    [
      'database',
      'database',
      async () => {
        database = await inspectDatabase(config.database.url, config.data);
        return describeDatabase(database);
      },
    ],
    ['storage', 'storage', () => checkStorage(config)],
    ['secret', 'secret', () => checkSecret(config, database)],
    ['redis', undefined, () => checkRedis(config)],
    ['tls', undefined, () => checkTls(config)],
  ];
  for (const [name, step, probe] of probes) {
    try {
      const found = await withTimeout(probe(), 15_000, name);
      report(typeof found === 'string' ? { name, status: 'ok', detail: found } : { name, status: 'skip', detail: found.skip });
    } catch (error) {
      // worded as `pier serve` words it, when it is a mistake that a start would stop on
      const worded = step ? wordStartupProblem(error instanceof SecretMismatchError ? 'keys' : step, error, config) : undefined;
      report({ name, status: 'FAIL', detail: redact(worded?.message ?? (error instanceof Error ? error.message : String(error))) });
    }
  }
  return results;
}

// --- database ---------------------------------------------------------------------------------

/** What the metadata database holds (read without creating or migrating anything), in one line. */
async function describeDatabase(state: DatabaseState): Promise<string> {
  const { known, pending, unknown } = await migrationStatus(state.applied);
  if (unknown.length > 0) {
    throw new Error(`${state.location}: migrated by a newer version of Pier (${unknown.join(', ')} unknown to this one)`);
  }
  if (!state.exists) {
    const what = state.kind === 'sqlite' ? 'the file does not exist yet' : 'the schema does not exist yet';
    if (!state.creatable) throw new Error(`${state.location}: ${what}, and Pier may not create it`);
    return `${state.location} (${what}: created at the first start)`;
  }
  if (pending.length > 0) {
    if (!state.creatable) throw new Error(`${state.location}: ${pending.length} migrations to apply, and Pier may not create tables there`);
    return `${state.location} (${pending.length} of ${known.length} migrations to apply: \`pier migrate\`, or at the next start)`;
  }
  return `${state.location} (schema current, ${known.length} migrations)`;
}

// --- storage ----------------------------------------------------------------------------------

async function checkStorage(config: Config): Promise<string> {
  const { parseStorageUrl } = await import('../storage/storage-url.js');
  const location = config.storage.url ? parseStorageUrl(config.storage.url) : { kind: 'file' as const, root: join(config.data, 'storage') };
  if (location.kind === 'file') return checkDirectory(location.root, 'created at the first push');

  // object stores are asked by their own driver; its check reads, it never writes
  const { openStore } = await import('../storage/open-store.js');
  const store = await openStore({ url: config.storage.url, fsync: config.storage.fsync, dataDir: config.data });
  try {
    if (!store.check) throw new Error(`${config.storage.url}: this storage driver cannot be checked`);
    await store.check();
    return config.storage.url!;
  } finally {
    await store.close?.();
  }
}

/** A directory Pier writes into: an existing writable directory, or one it can create. */
async function checkDirectory(path: string, later: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${path}: ${(error as Error).message}`);
    if (!(await creatableDirectory(path))) throw new Error(`${path} does not exist, and its parent is not a writable directory`);
    return `${path} (does not exist yet: ${later})`;
  }
  if (!info.isDirectory()) throw new Error(`${path} is not a directory`);
  await access(path, constants.R_OK | constants.W_OK | constants.X_OK).catch(() => {
    throw new Error(`${path} is not writable by this user`);
  });
  for (const sub of ['blobs', 'uploads']) {
    const inner = join(path, sub);
    const s = await stat(inner).catch(() => undefined);
    if (s && !s.isDirectory()) throw new Error(`${inner} is not a directory`);
    if (s) {
      await access(inner, constants.R_OK | constants.W_OK | constants.X_OK).catch(() => {
        throw new Error(`${inner} is not writable by this user`);
      });
    }
  }
  return path;
}

// --- secret, redis, tls -----------------------------------------------------------------------

/**
 * The installation secret that encrypts the signing keys of tokens (token mode only): read as a
 * start reads it, and tried on the signing keys the database holds.
 */
async function checkSecret(config: Config, database: DatabaseState | undefined): Promise<string | { skip: string }> {
  if (config.auth.mode !== 'token') return { skip: 'auth is open: no tokens are signed' };
  const configured = config.auth.secretKeyFile;
  const file = configured || join(config.data, SECRET_FILE_NAME);
  let secret: Buffer;
  try {
    secret = await readSecretFile(file);
  } catch (error) {
    if (error instanceof InstallationSecretError && error.reason === 'missing' && !configured) {
      if (!(await creatableDirectory(config.data))) throw new Error(`${file} does not exist, and ${config.data} is not writable`);
      if (database?.signingKeys.some((k) => k.retiredAt === null)) {
        throw new Error(`${file} does not exist, but the database holds signing keys made with a secret: put that secret file back (or give its path in PIER_SECRET_KEY_FILE)`);
      }
      const shared = config.database.url ? '; replicas sharing the database need one file: PIER_SECRET_KEY_FILE' : '';
      return `${file} (does not exist yet: created at the first start${shared})`;
    }
    throw error;
  }
  const keys = database?.signingKeys ?? [];
  checkSecretDecrypts(keys, secret);
  const active = keys.filter((k) => k.retiredAt === null).length;
  return active > 0 ? `${file} (decrypts the ${active} signing key${active === 1 ? '' : 's'} of the database)` : file;
}

async function checkRedis(config: Config): Promise<string | { skip: string }> {
  const url = config.redis.url;
  if (!url) return { skip: 'not configured: replicas share nothing, state is kept in process' };
  const parsed = new URL(url);
  const location = `${parsed.protocol}//${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}`;
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3_000,
    commandTimeout: 3_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
    return `${location} (prefix ${config.redis.prefix})`;
  } catch (error) {
    // ioredis rejects with "Connection is closed"; the connection's own error says why
    const message = lastError?.message || (error as Error).message || String(error);
    throw new Error(`${location}: ${message}`, { cause: error });
  } finally {
    client.disconnect();
  }
}

async function checkTls(config: Config): Promise<string | { skip: string }> {
  if (!config.tls.cert && !config.tls.key) return { skip: 'not configured: plain HTTP (terminate TLS in a proxy, or set PIER_TLS_CERT and PIER_TLS_KEY)' };
  const { describeCertificate, loadTls, validityProblem } = await import('../server/tls.js');
  const tls = (await loadTls(config.tls))!;
  const problem = validityProblem(tls.certificate);
  if (problem) throw new Error(`${tls.certFile}: ${problem}`);
  return `${tls.certFile}: ${describeCertificate(tls.certificate)}`;
}

// --- helpers ----------------------------------------------------------------------------------

/** Credentials of URLs never reach the output, whatever a driver put into its message. */
function redact(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*)(?::[^/@\s]*)?@/gi, (_m, scheme: string, user: string) => `${scheme}${user ? `${user}@` : ''}`)
    .replace(/([?&][^=&\s]*(?:pass|secret|token)[^=&\s]*=)[^&\s]*/gi, '$1***');
}

function withTimeout<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the ${name} check did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
