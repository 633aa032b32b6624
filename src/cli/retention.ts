import type { Command } from 'commander';
import type { Hub } from '../hub/hub.js';
import { EVERYTHING, type RetentionPolicy, type RetentionScope, type RunReport } from '../hub/retention/retention.js';
import type { RetentionRules } from '../hub/retention/selection.js';
import { isValidRepositoryName, namespaceOf, normalizeRepositoryName } from '../oci/names.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { CliError, usageError } from './errors.js';

interface SetFlags extends DataDirFlags {
  keepLast?: string;
  keepPulledDays?: string;
  keepPattern?: string;
}

/**
 * `pier retention`: retention policies of a namespace (NAME without a slash) or a repository
 * (namespace/repo), on a server's data directory (docs/retention.md).
 */
export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('retention policies: which tags a run keeps (the others are deleted)');

  dataDirOptions(
    retention
      .command('set')
      .description('set the retention policy of a namespace or a repository (replaces it; a tag stays when any rule keeps it)')
      .argument('<name>', 'a namespace (acme) or a repository (acme/app)')
      .option('--keep-last <n>', 'keep the N most recently pushed tags')
      .option('--keep-pulled-days <d>', 'keep tags pulled (or pushed) within D days')
      .option('--keep-pattern <pattern>', 'keep tags matching a glob (v*) or a /regular expression/'),
  ).action(async (raw: string, flags: SetFlags) => {
    const target = parseTarget(raw);
    const rules: RetentionRules = {
      keepLast: count(flags.keepLast, '--keep-last'),
      keepPulledDays: count(flags.keepPulledDays, '--keep-pulled-days'),
      keepPattern: flags.keepPattern ?? null,
    };
    if (rules.keepLast === null && rules.keepPulledDays === null && rules.keepPattern === null) throw usageError('give at least one rule: --keep-last, --keep-pulled-days or --keep-pattern');
    await withCore(flags, {}, async ({ hub }) => {
      await requireTarget(hub, target);
      const policy = await hub.retention.set(target.scope, target.name, rules, null);
      await auditCli(hub, { action: 'retention_policy.changed', target: target.name, namespace: namespaceOf(target.name), details: { keep_last: rules.keepLast, keep_pulled_days: rules.keepPulledDays, keep_pattern: rules.keepPattern } });
      process.stdout.write(`${target.name}: ${describePolicy(policy)}\n`);
    });
  });

  dataDirOptions(
    retention
      .command('show')
      .description('show the retention policy of a namespace or a repository (its own, or the one it inherits)')
      .argument('<name>', 'a namespace (acme) or a repository (acme/app)'),
  ).action(async (raw: string, flags: DataDirFlags) => {
    const target = parseTarget(raw);
    await withCore(flags, {}, async ({ hub }) => {
      await requireTarget(hub, target);
      if (target.scope === 'namespace') {
        const policy = await hub.retention.get('namespace', target.name);
        process.stdout.write(policy ? `${target.name}: ${describePolicy(policy)}\n` : `${target.name}: no retention policy\n`);
        return;
      }
      const { own, effective } = await hub.retention.ofRepository(target.name);
      if (own) process.stdout.write(`${target.name}: ${describePolicy(own)}\n`);
      else if (effective) process.stdout.write(`${target.name}: ${describePolicy(effective)} (inherited from ${effective.target})\n`);
      else process.stdout.write(`${target.name}: no retention policy\n`);
    });
  });

  dataDirOptions(
    retention
      .command('unset')
      .description('remove the retention policy of a namespace or a repository')
      .argument('<name>', 'a namespace (acme) or a repository (acme/app)'),
  ).action(async (raw: string, flags: DataDirFlags) => {
    const target = parseTarget(raw);
    await withCore(flags, {}, async ({ hub }) => {
      await requireTarget(hub, target);
      if (!(await hub.retention.unset(target.scope, target.name))) throw new CliError(`${target.name} has no retention policy of its own`);
      await auditCli(hub, { action: 'retention_policy.deleted', target: target.name, namespace: namespaceOf(target.name) });
      process.stdout.write(`${target.name}: retention policy removed\n`);
    });
  });

  dataDirOptions(
    retention
      .command('run')
      .description('apply the retention policies now: of NAME, or of every repository with one; each deleted tag is recorded (audit log, webhooks)')
      .argument('[name]', 'a namespace (acme) or a repository (acme/app); default: everything')
      .option('--dry-run', 'say what would be deleted and what is kept, and why; change nothing')
      .option('--json', 'print the report as JSON'),
  ).action(async (raw: string | undefined, flags: DataDirFlags & { dryRun?: boolean; json?: boolean }) => {
    const target = raw === undefined ? undefined : parseTarget(raw);
    await withCore(flags, {}, async ({ hub, registry }) => {
      if (target) await requireTarget(hub, target);
      const report = await hub.retention.run(target?.name ?? EVERYTHING, registry, { dryRun: flags.dryRun === true, trigger: 'cli', skipWithoutFeature: target === undefined });
      if (!report.dryRun) await auditCli(hub, { action: 'retention.run', target: target?.name ?? EVERYTHING, ...(target ? { namespace: namespaceOf(target.name) } : {}) });
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : describeRun(report));
    });
  });
}

function parseTarget(raw: string): { scope: RetentionScope; name: string } {
  if (raw.includes('/')) {
    if (!isValidRepositoryName(raw)) throw usageError(`"${raw}" is not a valid repository name`);
    return { scope: 'repository', name: normalizeRepositoryName(raw) };
  }
  if (!isValidRepositoryName(`${raw}/x`)) throw usageError(`"${raw}" is not a valid namespace`);
  return { scope: 'namespace', name: raw };
}

async function requireTarget(hub: Hub, target: { scope: RetentionScope; name: string }): Promise<void> {
  if (target.scope === 'repository' && !(await hub.repositories.visibility(target.name)).exists) throw new CliError(`no repository "${target.name}"`);
  if (target.scope === 'namespace' && !(await hub.accounts.get(target.name))) throw new CliError(`no account or organisation "${target.name}"`);
}

function count(value: string | undefined, flag: string): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) throw usageError(`${flag} expects a whole number, got "${value}"`);
  return Number(value);
}

export function describePolicy(policy: RetentionRules | RetentionPolicy): string {
  const rules: string[] = [];
  if (policy.keepLast !== null) rules.push(`the ${policy.keepLast} most recently pushed`);
  if (policy.keepPulledDays !== null) rules.push(`tags pulled within ${policy.keepPulledDays} days`);
  if (policy.keepPattern !== null) rules.push(`tags matching ${policy.keepPattern}`);
  return `keep ${rules.join(', ')}`;
}

function describeRun(report: RunReport): string {
  const lines: string[] = [];
  const verb = report.dryRun ? 'would delete' : 'deleted';
  for (const r of report.repositories) {
    lines.push(`${r.repository} (policy of ${r.policyFrom === 'namespace' ? 'its namespace' : 'the repository'}): ${verb} ${r.deleted.length} tags, kept ${r.kept.length}`);
    for (const t of r.deleted) lines.push(`  - ${t.tag}  ${t.reason}`);
    for (const t of r.kept) lines.push(`  + ${t.tag}  ${t.reason}`);
  }
  for (const name of report.skipped) lines.push(`${name}: skipped (its plan lacks the retention-policies feature)`);
  if (report.repositories.length === 0 && report.skipped.length === 0) lines.push('no repository is under a retention policy');
  return `${report.dryRun ? 'dry run: ' : ''}${lines.join('\n')}\n`;
}
