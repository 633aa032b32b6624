#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { HubError } from '../hub/errors.js';
import { ConfigError } from '../server/config.js';
import { registerCheck } from './check.js';
import { CliError } from './errors.js';
import { registerKeys } from './keys.js';
import { registerMigrate } from './migrate.js';
import { registerMigrateStorage } from './migrate-storage.js';
import { registerOrg } from './org.js';
import { registerPlan } from './plan.js';
import { registerRepo } from './repo.js';
import { registerServe } from './serve.js';
import { registerToken } from './token.js';
import { registerUser } from './user.js';

const program = new Command();
// usage errors exit with 2, like a bad configuration; commander has printed why
program.name('pier').description('Pier: a self-hosted Docker Hub').exitOverride();

registerServe(program);
registerUser(program);
registerOrg(program);
registerPlan(program);
registerToken(program);
registerRepo(program);
registerKeys(program);
registerMigrate(program);
registerCheck(program);
registerMigrateStorage(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  if (error instanceof ConfigError) fail(error.message, 2);
  if (error instanceof CliError) fail(error.message, error.exitCode);
  if (error instanceof HubError) fail(error.message, 1);
  fail((error as Error).stack ?? String(error), 1);
});

function fail(message: string, code: number): never {
  process.stderr.write(`pier: ${message}\n`);
  process.exit(code);
}
