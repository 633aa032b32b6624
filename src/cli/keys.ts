import type { Command } from 'commander';
import type { Config } from '../server/config.js';
import type { PierCore } from '../server/core.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { usageError } from './errors.js';

/** Signing keys of access tokens: rotation without downtime (old keys keep verifying for a while). */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('manage the signing keys of access tokens');

  dataDirOptions(keys.command('rotate').description('sign new tokens with a new key; tokens signed before stay valid until they expire')).action(
    async (flags: DataDirFlags) => {
      await withCore(flags, {}, async (core, config) => {
        const ring = await openKeyRing(core, config);
        const kid = await ring.rotate();
        await auditCli(core.hub, { action: 'admin.keys.rotated', target: kid });
        process.stdout.write(`${kid}\n`);
        process.stderr.write('new signing key; running servers use it after their next key reload (within a minute)\n');
      });
    },
  );

  dataDirOptions(keys.command('list').description('the public keys tokens are verified with (as /token/jwks publishes them)')).action(
    async (flags: DataDirFlags) => {
      await withCore(flags, {}, async (core, config) => {
        const ring = await openKeyRing(core, config);
        const signing = ring.signingKey().kid;
        for (const key of ring.jwks().keys) process.stdout.write(`${key.kid}${key.kid === signing ? '  (signing)' : ''}\n`);
      });
    },
  );

  dataDirOptions(
    keys
      .command('reset')
      .description('when the installation secret is lost: forget every signing key; the next start makes a new one (access tokens issued so far stop working; docker logins and access tokens stay)')
      .option('--yes', 'confirm: every access token in use stops working'),
  ).action(async (flags: DataDirFlags & { yes?: boolean }) => {
    if (!flags.yes) throw usageError('`pier keys reset` forgets every signing key: access tokens in use stop working (clients fetch new ones). Confirm with --yes');
    await withCore(flags, {}, async (core) => {
      const { deleteSigningKeys } = await import('../auth/signing-key-store.js');
      const removed = await deleteSigningKeys(core.database.db);
      await auditCli(core.hub, { action: 'admin.keys.reset', target: 'signing keys', details: { removed } });
      process.stderr.write(`forgot ${removed} signing key${removed === 1 ? '' : 's'}: start Pier (every replica with the same secret file) and it makes a new one\n`);
    });
  });
}

async function openKeyRing(core: PierCore, config: Config) {
  const { loadInstallationSecret } = await import('../auth/installation-secret.js');
  const [{ KeyRing }, { sqlSigningKeyStore }] = await Promise.all([import('../auth/signing-keys.js'), import('../auth/signing-key-store.js')]);
  const secret = await loadInstallationSecret({ file: config.auth.secretKeyFile, dataDir: config.data });
  return KeyRing.open({ store: sqlSigningKeyStore(core.database.db), secret });
}
