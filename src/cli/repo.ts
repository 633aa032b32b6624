import { Argument, type Command } from 'commander';
import { OciError } from '../oci/errors.js';
import { isValidRepositoryName, namespaceOf, normalizeRepositoryName, type RepositoryName } from '../oci/names.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { CliError, usageError } from './errors.js';

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

  dataDirOptions(
    repo
      .command('immutable')
      .description('list, add or remove (--remove) the immutable tag rules of a repository: a glob such as v* or a /regular expression/')
      .argument('<name>', 'repository, e.g. alice/app')
      .argument('[pattern]', 'the tag pattern to add (or remove)')
      .option('--remove', 'remove the pattern instead of adding it'),
  ).action(async (rawName: string, pattern: string | undefined, flags: DataDirFlags & { remove?: boolean }) => {
    if (!isValidRepositoryName(rawName)) throw usageError(`"${rawName}" is not a valid repository name`);
    if (flags.remove && pattern === undefined) throw usageError('--remove needs the pattern to remove');
    const name = normalizeRepositoryName(rawName);
    await withCore(flags, {}, async ({ hub }) => {
      if (!(await hub.repositories.visibility(name)).exists) throw new CliError(`no repository "${name}"`);
      if (pattern === undefined) {
        for (const rule of await hub.immutability.list(name)) process.stdout.write(`${rule.pattern}\n`);
        return;
      }
      if (flags.remove) {
        if (!(await hub.immutability.remove(name, pattern))) throw new CliError(`no immutable tag rule "${pattern}" on ${name}`);
        await auditCli(hub, { action: 'immutable_tag_rule.deleted', target: name, namespace: namespaceOf(name), details: { pattern } });
        process.stdout.write(`tags of ${name} matching ${pattern} are no longer immutable\n`);
        return;
      }
      await hub.immutability.add(name, pattern, null);
      await auditCli(hub, { action: 'immutable_tag_rule.created', target: name, namespace: namespaceOf(name), details: { pattern } });
      process.stdout.write(`tags of ${name} matching ${pattern} are now immutable\n`);
    });
  });

  dataDirOptions(
    repo
      .command('delete')
      .description('delete a repository: its tags, manifests and what the hub keeps of it (garbage collection reclaims the bytes)')
      .argument('<name>', 'repository, e.g. alice/app'),
  ).action(async (rawName: string, flags: DataDirFlags) => {
    if (!isValidRepositoryName(rawName)) throw usageError(`"${rawName}" is not a valid repository name`);
    const name = normalizeRepositoryName(rawName);
    await withCore(flags, {}, async ({ hub, registry }) => {
      await hub.deleteRepository(name, registry);
      await auditCli(hub, { action: 'repository.deleted', target: name, namespace: namespaceOf(name) });
      process.stdout.write(`${name} deleted\n`);
    });
  });
}

/** `pier tag delete NAME:TAG` removes a tag; `NAME@DIGEST` a manifest and every tag naming it (immutable tags are refused). */
export function registerTag(program: Command): void {
  const tag = program.command('tag').description('manage tags');
  dataDirOptions(
    tag
      .command('delete')
      .description('delete a tag (NAME:TAG; its manifest stays), or a manifest with its tags (NAME@DIGEST)')
      .argument('<reference>', 'e.g. alice/app:v1 or alice/app@sha256:...'),
  ).action(async (reference: string, flags: DataDirFlags) => {
    const at = reference.indexOf('@');
    const colon = reference.lastIndexOf(':');
    const split = at >= 0 ? at : colon > reference.lastIndexOf('/') ? colon : -1;
    if (split < 0) throw usageError(`"${reference}" names no tag or digest: give NAME:TAG or NAME@DIGEST`);
    const rawName = reference.slice(0, split);
    const ref = reference.slice(split + 1);
    if (!isValidRepositoryName(rawName)) throw usageError(`"${rawName}" is not a valid repository name`);
    const name = normalizeRepositoryName(rawName);
    await withCore(flags, {}, async ({ hub, registry }) => {
      try {
        await registry.manifests.delete(name as RepositoryName, ref, {});
      } catch (error) {
        if (error instanceof OciError) throw new CliError(error.code === 'MANIFEST_UNKNOWN' ? `no ${at >= 0 ? 'manifest' : 'tag'} ${reference}` : error.message);
        throw error;
      }
      await auditCli(hub, { action: at >= 0 ? 'manifest.deleted' : 'tag.deleted', target: `${name}${at >= 0 ? '@' : ':'}${ref}`, namespace: namespaceOf(name) });
      process.stdout.write(`${name}${at >= 0 ? '@' : ':'}${ref} deleted\n`);
    });
  });
}
