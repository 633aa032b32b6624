import type { Command } from 'commander';
import { loadConfig } from '../server/config.js';
import { inspectDatabase, migrationStatus } from '../metadata/inspect.js';
import { dataDirOptions, type DataDirFlags } from './data-dir.js';
import { CliError } from './errors.js';

/**
 * `pier migrate`: applies the migrations the database does not have yet and names them. Servers
 * apply them at start too (under a lock, so replicas starting together run them once); this lets
 * an operator do it first, e.g. before rolling a new version out to many replicas.
 */
export function registerMigrate(program: Command): void {
  dataDirOptions(
    program.command('migrate').description('apply the database migrations not applied yet (servers also do at start) and print them; idempotent'),
  ).action(async (flags: DataDirFlags) => {
    const config = loadConfig({ file: flags.config, overrides: { data: flags.data } });
    const before = await inspectDatabase(config.database.url, config.data);
    if (before.kind === 'sqlite' && !before.exists) {
      throw new CliError(`no Pier database in ${config.data} (${before.location} does not exist): give the server's data directory with --data or PIER_DATA`, 2);
    }
    const { unknown } = await migrationStatus(before.applied);
    if (unknown.length > 0) {
      throw new CliError(`${before.location} was migrated by a newer version of Pier (${unknown.join(', ')} unknown to this one): run that version`, 1);
    }
    process.stdout.write(`database  ${before.location}\n`);

    const { openDatabase } = await import('../metadata/database.js');
    const database = await openDatabase(config.database.url, config.data); // migrates to the latest
    await database.close();

    const after = await inspectDatabase(config.database.url, config.data);
    const applied = after.applied.filter((name) => !before.applied.includes(name));
    for (const name of applied) process.stdout.write(`applied   ${name}\n`);
    const count = `${after.applied.length} migration${after.applied.length === 1 ? '' : 's'}`;
    process.stdout.write(applied.length > 0 ? `the schema is current (${count})\n` : `nothing to apply: the schema is current (${count})\n`);
  });
}
