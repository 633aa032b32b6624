import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { AuditFilter } from '../hub/audit.js';
import type { Hub } from '../hub/hub.js';
import { auditJson } from '../http/api/audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { usageError } from './errors.js';

interface ExportFlags extends DataDirFlags {
  since?: string;
  until?: string;
  actor?: string;
  action?: string;
  namespace?: string;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('read the audit log');

  dataDirOptions(
    audit
      .command('export')
      .description('write the audit log as JSON lines, oldest first (the fields of GET /api/v1/audit)')
      .option('--since <time>', 'entries at or after this time (ISO 8601)')
      .option('--until <time>', 'entries before this time (ISO 8601)')
      .option('--actor <account>', 'entries of this actor')
      .option('--action <action>', 'an action, or a prefix ending in a dot (token.)')
      .option('--namespace <namespace>', 'entries of this account or organisation'),
  ).action(async (flags: ExportFlags) => {
    const filter: AuditFilter = {
      ...(flags.actor !== undefined ? { actor: flags.actor } : {}),
      ...(flags.action !== undefined ? { action: flags.action } : {}),
      ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
      ...(flags.since !== undefined ? { since: time(flags.since, '--since') } : {}),
      ...(flags.until !== undefined ? { until: time(flags.until, '--until') } : {}),
    };
    await withCore(flags, {}, async ({ hub }) => {
      for await (const entry of hub.audit.stream(filter)) {
        if (!process.stdout.write(`${JSON.stringify(auditJson(entry))}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      }
    });
  });
}

/** What a command changed, in the audit log: done on this machine by its user, not over the network. */
export async function auditCli(hub: Hub, entry: { action: string; target: string; namespace?: string; details?: Record<string, unknown> }): Promise<void> {
  await hub.audit.record({ ...entry, actor: null, via: 'cli', result: 'ok', details: { ...entry.details, user: userInfo().username } });
}

function time(value: string, flag: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw usageError(`${flag}: "${value}" is not a date (ISO 8601, such as 2026-01-31T12:00:00Z)`);
  return ms;
}
