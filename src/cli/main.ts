#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { HubError } from '../hub/errors.js';
import { ConfigError } from '../server/config.js';
import { StartupProblem } from '../server/startup-problems.js';
import { registerAudit } from './audit.js';
import { registerCheck } from './check.js';
import { CliError } from './errors.js';
import { registerFsck } from './fsck.js';
import { registerGc } from './gc.js';
import { registerKeys } from './keys.js';
import { registerMigrate } from './migrate.js';
import { registerMigrateStorage } from './migrate-storage.js';
import { registerOrg } from './org.js';
import { registerPlan } from './plan.js';
import { registerProxy } from './proxy.js';
import { registerReplication } from './replication.js';
import { registerRepo, registerTag } from './repo.js';
import { registerRetention } from './retention.js';
import { registerServe } from './serve.js';
import { registerToken } from './token.js';
import { registerUser } from './user.js';

const program = new Command();
// usage errors exit with 2, like a bad configuration; commander has printed why
program
  .name('pier')
  .description('Pier: a self-hosted Docker Hub')
  .option('--debug', 'print the stack trace of an error, mistakes in the configuration included (PIER_LOG_LEVEL=debug does too)')
  .exitOverride();

registerServe(program);
registerUser(program);
registerOrg(program);
registerPlan(program);
registerToken(program);
registerRepo(program);
registerTag(program);
registerProxy(program);
registerReplication(program);
registerGc(program);
registerRetention(program);
registerFsck(program);
registerKeys(program);
registerMigrate(program);
registerCheck(program);
registerMigrateStorage(program);
registerAudit(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  // a user's mistake is one line that says what to do; a stack trace is for bugs, and for --debug
  if (error instanceof ConfigError) fail(error.message, 2, error);
  if (error instanceof CliError) fail(error.message, error.exitCode, error);
  if (error instanceof HubError) fail(error.message, 1, error);
  if (error instanceof StartupProblem) fail(error.message, 1, error);
  fail((error as Error).stack ?? String(error), 1);
});

function fail(message: string, code: number, mistake?: Error): never {
  process.stderr.write(`pier: ${message}\n`);
  if (mistake && debugging()) process.stderr.write(`${stackOf(mistake)}\n`);
  process.exit(code);
}

function debugging(): boolean {
  const level = process.env.PIER_LOG_LEVEL;
  return program.opts<{ debug?: boolean }>().debug === true || level === 'debug' || level === 'trace';
}

/** The stack of an error and of what caused it. */
function stackOf(error: unknown): string {
  const lines: string[] = [];
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    lines.push(`${depth > 0 ? 'caused by: ' : ''}${(current as Error).stack ?? String(current)}`);
  }
  return lines.join('\n');
}
