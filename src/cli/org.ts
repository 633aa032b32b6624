import type { Command } from 'commander';
import { isOrganizationRole } from '../hub/organizations.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { CliError, usageError } from './errors.js';

/** `pier org ...`: organisations, their members, and verified publishers, on a server's data directory. */
export function registerOrg(program: Command): void {
  const org = program.command('org').description('manage organisations');

  dataDirOptions(
    org
      .command('create <name>')
      .description('create an organisation owned by a user')
      .option('--owner <user>', 'its first owner (required)'),
  ).action(async (name: string, flags: DataDirFlags & { owner?: string }) => {
    if (flags.owner === undefined) throw usageError('name the first owner with --owner USER');
    await withCore(flags, {}, async ({ hub }) => {
      await hub.organizations.create(name, flags.owner!);
      await auditCli(hub, { action: 'organization.created', target: name, namespace: name, details: { owner: flags.owner } });
      process.stdout.write(`created organisation ${name}, owned by ${flags.owner}\n`);
    });
  });

  dataDirOptions(
    org
      .command('add-member <org> <user>')
      .description('add a user to an organisation')
      .option('--role <role>', 'owner or member', 'member'),
  ).action(async (name: string, user: string, flags: DataDirFlags & { role: string }) => {
    if (!isOrganizationRole(flags.role)) throw usageError(`--role: owner or member (not "${flags.role}")`);
    const role = flags.role;
    await withCore(flags, {}, async ({ hub }) => {
      if (!(await hub.organizations.get(name))) throw new CliError(`no organisation "${name}"`);
      await hub.organizations.addMember(name, user, role);
      await auditCli(hub, { action: 'member.added', target: `${name}/${user}`, namespace: name, details: { role } });
      process.stdout.write(`added ${user} to ${name} as ${role}\n`);
    });
  });

  dataDirOptions(org.command('remove-member <org> <user>').description('remove a user from an organisation (never its last owner)')).action(
    async (name: string, user: string, flags: DataDirFlags) => {
      await withCore(flags, {}, async ({ hub }) => {
        await hub.organizations.removeMember(name, user);
        await auditCli(hub, { action: 'member.removed', target: `${name}/${user}`, namespace: name });
        process.stdout.write(`removed ${user} from ${name}\n`);
      });
    },
  );

  dataDirOptions(
    org
      .command('verify <org>')
      .description('mark an organisation a verified publisher')
      .option('--undo', 'take the mark away'),
  ).action(async (name: string, flags: DataDirFlags & { undo?: boolean }) => {
    await withCore(flags, {}, async ({ hub }) => {
      await hub.organizations.setVerifiedPublisher(name, flags.undo !== true);
      await auditCli(hub, { action: 'admin.organization.verified', target: name, namespace: name, details: { verified: flags.undo !== true } });
      process.stdout.write(flags.undo ? `${name} is no longer a verified publisher\n` : `${name} is a verified publisher\n`);
    });
  });

  dataDirOptions(org.command('list').description('list organisations').option('--json', 'print JSON')).action(async (flags: DataDirFlags & { json?: boolean }) => {
    await withCore(flags, {}, async ({ hub }) => {
      const orgs = await hub.organizations.list();
      if (flags.json) {
        const rows = orgs.map((o) => ({ name: o.name, official: o.official, verified_publisher: o.verifiedPublisher, plan: o.plan }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const o of orgs) {
        const badges = [o.official ? 'official' : '', o.verifiedPublisher ? 'verified publisher' : ''].filter(Boolean).join(', ');
        process.stdout.write(`${o.name}${badges ? ` (${badges})` : ''}\n`);
      }
    });
  });

  dataDirOptions(org.command('members <org>').description("list an organisation's members")).action(async (name: string, flags: DataDirFlags) => {
    await withCore(flags, {}, async ({ hub }) => {
      if (!(await hub.organizations.get(name))) throw new CliError(`no organisation "${name}"`);
      for (const m of await hub.organizations.members(name)) process.stdout.write(`${m.account}  ${m.role}\n`);
    });
  });
}
