import type { Command } from 'commander';
import type { Plan } from '../hub/plans.js';
import { formatBytes } from '../hub/usage.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { CliError } from './errors.js';

/**
 * `pier plan list` and `pier plan set ACCOUNT PLAN`: whoever runs the command on the server's data
 * is its administrator, so a plan set here is granted (the built-in provider); nothing is charged.
 */
export function registerPlan(program: Command): void {
  const plan = program.command('plan').description('list plans and grant them to accounts and organisations');

  dataDirOptions(plan.command('list').description('list the plans and their limits').option('--json', 'print JSON')).action(
    async (flags: DataDirFlags & { json?: boolean }) => {
      await withCore(flags, {}, async ({ hub }) => {
        const plans = await hub.plans.list();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
          return;
        }
        const rows = [
          ['NAME', 'PRICE', 'PRIVATE REPOS', 'STORAGE', 'PULLS', 'SEATS', 'FEATURES'],
          ...plans.map((p) => [p.name, p.priceLabel, unlimited(p.privateRepositories), unlimited(p.storageBytes, formatBytes), pulls(p), unlimited(p.seats), p.features.join(',') || '-']),
        ];
        process.stdout.write(table(rows));
      });
    },
  );

  dataDirOptions(plan.command('set <account> <plan>').description('give an account or organisation a plan (a downgrade deletes nothing)')).action(
    async (account: string, planName: string, flags: DataDirFlags) => {
      await withCore(flags, {}, async ({ hub }) => {
        const change = await hub.plans.assign(account, planName, { name: 'pier plan set', admin: true });
        if (change.status === 'pending') throw new CliError(`the ${planName} plan of ${account} waits for ${hub.plans.provider.name}: ${change.next}`);
        await auditCli(hub, { action: 'plan.changed', target: account, namespace: account, details: { plan: change.plan.name } });
        const usage = await hub.limits.usage.of(account);
        process.stdout.write(`${account} now has the ${change.plan.name} plan\n`);
        // the plan's allowance is shared with the organisations billed to the account
        const who = usage.namespaces.length > 1 ? `${account} and the organisations billed to it` : account;
        const has = usage.namespaces.length > 1 ? 'have' : 'has';
        if (usage.readOnly.length > 0) {
          process.stdout.write(
            `${who} ${has} ${usage.privateRepositories} private repositories, over the ${change.plan.privateRepositories} of this plan: ${usage.readOnly.join(', ')} ${usage.readOnly.length === 1 ? 'is' : 'are'} read-only until it is back within the limit\n`,
          );
        }
        if (change.plan.storageBytes !== null && usage.storageBytes > change.plan.storageBytes) {
          process.stdout.write(`${who} ${usage.namespaces.length > 1 ? 'store' : 'stores'} ${formatBytes(usage.storageBytes)}, over the ${formatBytes(change.plan.storageBytes)} of this plan: pushes that add storage are refused\n`);
        }
      });
    },
  );
}

function unlimited(value: number | null, format: (n: number) => string = String): string {
  return value === null ? 'unlimited' : format(value);
}

function pulls(plan: Plan): string {
  if (plan.pullsPerWindow === null) return 'unlimited';
  const hours = plan.pullWindowSeconds / 3600;
  return `${plan.pullsPerWindow}/${Number.isInteger(hours) ? `${hours}h` : `${plan.pullWindowSeconds}s`}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
