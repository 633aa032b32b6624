import { Argument, type Command } from 'commander';
import { isValidRepositoryName, namespaceOf, normalizeRepositoryName } from '../oci/names.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { usageError } from './errors.js';

export function registerRepo(program: Command): void {
  const repo = program.command('repo').description('manage repositories');

  dataDirOptions(
    repo
      .command('visibility')
      .description('make a repository public or private (a one-part NAME is library/NAME)')
      .argument('<name>', 'repository, e.g. alice/app')
      .addArgument(new Argument('<visibility>').choices(['public', 'private'])),
  ).action(async (rawName: string, visibility: 'public' | 'private', flags: DataDirFlags) => {
    if (!isValidRepositoryName(rawName)) throw usageError(`"${rawName}" is not a valid repository name`);
    const name = normalizeRepositoryName(rawName);
    await withCore(flags, {}, async ({ hub }) => {
      await hub.repositories.setVisibility(name, visibility === 'private');
      await auditCli(hub, { action: 'repository.visibility', target: name, namespace: namespaceOf(name), details: { is_private: visibility === 'private' } });
      process.stdout.write(`${name} is now ${visibility}\n`);
    });
  });
}
