import type { Command } from 'commander';
import type { ReplicationRule } from '../hub/replication/rules.js';
import type { ReplicationRun } from '../hub/replication/runs.js';
import { formatBytes } from '../hub/usage.js';
import { parseDuration } from '../server/duration.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { CliError, usageError } from './errors.js';
import { readPassword } from './password-input.js';

interface AddFlags extends DataDirFlags {
  push?: boolean;
  pull?: boolean;
  url?: string;
  repository?: string[];
  tag?: string[];
  destination?: string;
  every?: string;
  username?: string;
  passwordStdin?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * `pier replication add|list|remove|run|status`: rules that copy repositories to (push) or from
 * (pull) another registry, and the record of their runs. A running server follows pushes and
 * schedules; `run` copies here and now and prints what it copied.
 */
export function registerReplication(program: Command): void {
  const replication = program.command('replication').description('copy repositories to and from other registries');

  dataDirOptions(
    replication
      .command('add <name>')
      .description('add a rule: --push copies every push to a matching repository to URL, --pull copies from URL on a schedule')
      .option('--push', 'copy repositories here to the other registry (after each push, and on --every)')
      .option('--pull', 'copy repositories of the other registry here (on --every, or by `pier replication run`)')
      .requiredOption('--url <url>', 'the other registry, e.g. https://registry.site-b.example')
      .requiredOption('--repository <pattern>', 'a name pattern on the source side (alice/app, alice/*, team/**); repeatable', collect)
      .option('--tag <pattern>', 'a tag pattern (v1.*); repeatable; none: every tag', collect)
      .option('--destination <namespace>', 'a namespace prefix on the destination side (default: the same names)')
      .option('--every <duration>', 'a full run this often (1h, 1d); at least 1m')
      .option('--username <name>', 'the account on the other registry (with --password-stdin)')
      .option('--password-stdin', 'read its password from stdin'),
  ).action(async (name: string, flags: AddFlags) => {
    if (flags.push === flags.pull) throw usageError('say which way: --push (to the other registry) or --pull (from it)');
    if ((flags.username === undefined) !== (flags.passwordStdin !== true)) throw usageError('credentials are --username NAME with --password-stdin, both or neither');
    const intervalMs = flags.every === undefined ? undefined : parseDuration(flags.every);
    if (flags.every !== undefined && intervalMs === undefined) throw usageError(`--every: expected a duration such as 15m, 1h or 1d, got "${flags.every}"`);
    const password = flags.passwordStdin ? await readPassword() : undefined;
    await withCore(flags, {}, async ({ hub, replication: service }) => {
      const rule = await service.rules.create(name, {
        direction: flags.push ? 'push' : 'pull',
        url: flags.url!,
        repositories: flags.repository ?? [],
        ...(flags.tag ? { tags: flags.tag } : {}),
        ...(flags.destination !== undefined ? { destination: flags.destination } : {}),
        ...(intervalMs !== undefined ? { intervalMs } : {}),
        ...(flags.username !== undefined && password !== undefined ? { credentials: { username: flags.username, password } } : {}),
      });
      await auditCli(hub, { action: 'admin.replication.created', target: rule.name, details: { direction: rule.direction, url: rule.url, repositories: rule.repositories } });
      process.stdout.write(`added ${describeRule(rule)}\n`);
    });
  });

  dataDirOptions(replication.command('list').description('list the rules').option('--json', 'print JSON')).action(async (flags: DataDirFlags & { json?: boolean }) => {
    await withCore(flags, {}, async ({ replication: service }) => {
      const rules = await service.rules.list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rules.map(({ hasPassword, ...rule }) => ({ ...rule, hasPassword })), null, 2)}\n`);
        return;
      }
      const rows = [
        ['NAME', 'DIRECTION', 'REGISTRY', 'REPOSITORIES', 'TAGS', 'DESTINATION', 'SCHEDULE', 'ENABLED'],
        ...rules.map((r) => [
          r.name,
          r.direction,
          r.url,
          r.repositories.join(','),
          r.tags?.join(',') ?? '*',
          r.destination || '-',
          r.intervalMs ? `every ${Math.round(r.intervalMs / 1000)}s` : r.direction === 'push' ? 'on push' : 'on demand',
          r.enabled ? 'yes' : 'no',
        ]),
      ];
      process.stdout.write(table(rows));
    });
  });

  dataDirOptions(replication.command('remove <name>').description('remove a rule (its runs stay in the history)')).action(async (name: string, flags: DataDirFlags) => {
    await withCore(flags, {}, async ({ hub, replication: service }) => {
      await service.rules.remove(name);
      await auditCli(hub, { action: 'admin.replication.deleted', target: name });
      process.stdout.write(`removed the replication rule ${name}\n`);
    });
  });

  dataDirOptions(replication.command('run <name>').description('run a rule now, here, and print what it copied (exit 1 when something failed)').option('--json', 'print the run as JSON')).action(
    async (name: string, flags: DataDirFlags & { json?: boolean }) => {
      await withCore(flags, {}, async ({ replication: service }) => {
        const run = await service.runNow(name);
        if (flags.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
        else process.stdout.write(describeRun(run, true));
        if (run.status !== 'succeeded') throw new CliError(`the run failed${run.status === 'queued' ? ' (it is retried by the server)' : ''}: ${run.error ?? 'see above'}`);
      });
    },
  );

  dataDirOptions(
    replication
      .command('status [name]')
      .description('the latest runs (of one rule), with what they copied')
      .option('--limit <n>', 'how many runs (default 10)', '10')
      .option('--json', 'print JSON'),
  ).action(async (name: string | undefined, flags: DataDirFlags & { limit: string; json?: boolean }) => {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usageError('--limit: 1 to 1000');
    await withCore(flags, {}, async ({ replication: service }) => {
      if (name !== undefined && !(await service.rules.get(name))) throw new CliError(`no replication rule "${name}"`);
      const { runs } = await service.runs.page({ offset: 0, limit, ...(name !== undefined ? { rule: name } : {}) });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
        return;
      }
      if (runs.length === 0) process.stdout.write(name ? `no runs of ${name} yet\n` : 'no runs yet\n');
      for (const run of runs) process.stdout.write(describeRun(run, false));
    });
  });
}

function describeRule(rule: ReplicationRule): string {
  const way = rule.direction === 'push' ? `copies ${rule.repositories.join(', ')} to ${rule.url}` : `copies ${rule.repositories.join(', ')} from ${rule.url}`;
  const when = rule.intervalMs ? ` every ${Math.round(rule.intervalMs / 1000)}s` : rule.direction === 'push' ? ' after each push' : ' when run';
  return `the replication rule ${rule.name}: ${way}${rule.tags ? ` (tags ${rule.tags.join(', ')})` : ''}${rule.destination ? ` under ${rule.destination}/` : ''}${when}`;
}

function describeRun(run: ReplicationRun, detailed: boolean): string {
  const when = new Date(run.finishedAt ?? run.startedAt ?? run.createdAt).toISOString();
  const retry = run.status === 'queued' && run.attempts > 0 ? `, retried at ${new Date(run.notBefore).toISOString()}` : '';
  const lines = [
    `${run.id}  ${run.rule}  ${run.status}${retry}  ${run.trigger}  attempt ${run.attempts}  ${when}`,
    `  ${run.manifestsCopied} manifests and ${run.blobsCopied} blobs copied (${formatBytes(run.bytesCopied)}), ${run.blobsSkipped} blobs already there`,
  ];
  for (const repository of run.report?.repositories ?? []) {
    const items = repository.items.map((i) => `${i.reference}${i.result === 'copied' ? '' : ` (${i.result})`}${i.referrers ? ` +${i.referrers} referrers` : ''}`);
    if (detailed || items.length <= 5) lines.push(`  ${repository.source} -> ${repository.destination}: ${items.join(', ') || 'nothing'}`);
    else lines.push(`  ${repository.source} -> ${repository.destination}: ${items.slice(0, 5).join(', ')} and ${items.length - 5} more`);
  }
  for (const error of run.report?.errors ?? []) lines.push(`  error: ${error}`);
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
