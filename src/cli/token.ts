import type { Command } from 'commander';
import { isTokenScope, TOKEN_SCOPES } from '../auth/access-policy.js';
import { TOKEN_LIFETIME_RULE, tokenLifetimeSeconds } from '../hub/tokens.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { usageError } from './errors.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('manage personal access tokens');

  dataDirOptions(
    token
      .command('create <user>')
      .description('create a personal access token; it is printed once, alone on stdout')
      .option('--label <label>', 'what the token is for (required)')
      .option('--scope <scope>', `${TOKEN_SCOPES.join(' | ')} (repeatable, at least one)`, (value: string, previous: string[]) => [...previous, value], [] as string[])
      .option('--expires <duration>', 'lifetime, e.g. 30d, 12h or seconds (default: never expires)'),
  ).action(async (user: string, flags: DataDirFlags & { label?: string; scope: string[]; expires?: string }) => {
    if (flags.label === undefined) throw usageError('give the token a label with --label');
    if (flags.scope.length === 0) throw usageError(`give at least one --scope: ${TOKEN_SCOPES.join(', ')}`);
    const unknown = flags.scope.filter((s) => !isTokenScope(s));
    if (unknown.length > 0) throw usageError(`unknown scope ${unknown.join(', ')}: the scopes are ${TOKEN_SCOPES.join(', ')}`);
    // the hub applies the rule; asked first here so that a bad value is a usage error (exit 2)
    if (flags.expires !== undefined && tokenLifetimeSeconds(flags.expires) === undefined) {
      throw usageError(`--expires: ${TOKEN_LIFETIME_RULE} (not "${flags.expires}")`);
    }
    await withCore(flags, {}, async ({ hub }) => {
      const { token: secret, info } = await hub.tokens.createPersonalAccessToken(user, { label: flags.label!, scopes: flags.scope, expiresIn: flags.expires });
      await auditCli(hub, {
        action: 'token.created',
        target: info.id,
        namespace: user,
        details: { label: info.label, scopes: info.scopes, ...(info.expiresAt !== null ? { expires_at: new Date(info.expiresAt).toISOString() } : {}) },
      });
      process.stdout.write(`${secret}\n`);
      const expiry = info.expiresAt === null ? 'never expires' : `expires ${new Date(info.expiresAt).toISOString()}`;
      process.stderr.write(`created token ${info.id} for ${user} (${info.scopes.join(', ')}; ${expiry}); it is shown only this once\n`);
    });
  });
}
