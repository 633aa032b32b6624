import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../server/config.js';
import type { PierCore } from '../server/core.js';
import { CliError } from './errors.js';

export interface DataDirFlags {
  data?: string;
  config?: string;
}

/** `--data` and `--config`, for commands that work on a server's data directory. */
export function dataDirOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory of the server, stopped or running (PIER_DATA, default ./data)')
    .option('--config <file>', "the server's YAML or JSON config file (PIER_CONFIG)");
}

/**
 * Opens the database and storage of a data directory directly, as the server does. What a
 * command changes there counts in a running server at once: it reads these rows per request.
 * Only `create` may start a new installation; the others refuse a directory without a database
 * (most likely a wrong --data).
 */
export async function withCore<T>(flags: DataDirFlags, options: { create?: boolean }, run: (core: PierCore, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ file: flags.config, overrides: { data: flags.data } });
  const databaseFile = join(config.data, 'pier.db');
  // on PostgreSQL (database.url) the data directory holds no database file to look for
  if (!options.create && config.database.url === undefined && !existsSync(databaseFile)) {
    throw new CliError(`no Pier database in ${config.data} (${databaseFile} does not exist): give the server's data directory with --data or PIER_DATA`, 2);
  }
  const { openCore } = await import('../server/core.js');
  const core = await openCore(config);
  try {
    return await run(core, config);
  } finally {
    await core.close();
  }
}
