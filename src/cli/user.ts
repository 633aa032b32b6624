import type { Command } from 'commander';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { readPassword, requirePasswordStdin } from './password-input.js';

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage accounts');

  dataDirOptions(
    user
      .command('create <name>')
      .description('create an account; the password is read from stdin')
      .option('--admin', 'make it an administrator')
      .option('--email <address>', 'its email address')
      .option('--password-stdin', 'read the password from stdin (required)'),
  ).action(async (name: string, flags: DataDirFlags & { admin?: boolean; email?: string; passwordStdin?: boolean }) => {
    requirePasswordStdin(flags.passwordStdin);
    const password = await readPassword();
    await withCore(flags, { create: true }, async ({ hub }) => {
      const account = await hub.accounts.create({ name, password, email: flags.email, admin: flags.admin === true });
      await auditCli(hub, { action: 'account.created', target: account.name, namespace: account.name, details: { admin: account.admin } });
      process.stdout.write(`created ${account.admin ? 'administrator' : 'user'} ${account.name}\n`);
    });
  });

  dataDirOptions(user.command('list').description('list accounts').option('--json', 'print JSON')).action(
    async (flags: DataDirFlags & { json?: boolean }) => {
      await withCore(flags, {}, async ({ hub }) => {
        const accounts = await hub.accounts.list();
        if (flags.json) {
          const rows = accounts.map((a) => ({ username: a.name, email: a.email, admin: a.admin, created_at: new Date(a.createdAt).toISOString() }));
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        const rows = [['NAME', 'ADMIN', 'EMAIL', 'CREATED'], ...accounts.map((a) => [a.name, a.admin ? 'yes' : 'no', a.email ?? '-', new Date(a.createdAt).toISOString()])];
        process.stdout.write(table(rows));
      });
    },
  );

  dataDirOptions(user.command('delete <name>').description('delete an account with all its repositories (the name stays reserved)')).action(
    async (name: string, flags: DataDirFlags) => {
      await withCore(flags, {}, async ({ hub, registry }) => {
        const { repositories } = await hub.deleteAccount(name, registry);
        await auditCli(hub, { action: 'admin.user.deleted', target: name, namespace: name, details: { repositories: repositories.length } });
        const list = repositories.length > 0 ? `: ${repositories.join(', ')}` : '';
        process.stdout.write(`deleted user ${name} and ${repositories.length} ${repositories.length === 1 ? 'repository' : 'repositories'}${list}\n`);
      });
    },
  );

  dataDirOptions(
    user
      .command('set-password <name>')
      .description("set an account's password, read from stdin; its docker logins end")
      .option('--password-stdin', 'read the password from stdin (required)'),
  ).action(async (name: string, flags: DataDirFlags & { passwordStdin?: boolean }) => {
    requirePasswordStdin(flags.passwordStdin);
    const password = await readPassword();
    await withCore(flags, {}, async ({ hub }) => {
      await hub.accounts.setPassword(name, password);
      await auditCli(hub, { action: 'admin.user.password_set', target: name, namespace: name });
      process.stdout.write(`changed the password of ${name}; its earlier docker logins and sessions have ended\n`);
    });
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
