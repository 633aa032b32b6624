import type { Command } from 'commander';
import { PROXY_VISIBILITIES, type ProxyVisibility } from '../hub/proxies.js';
import { parseDuration } from '../server/duration.js';
import { auditCli } from './audit.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { usageError } from './errors.js';
import { readPassword } from './password-input.js';

interface AddFlags extends DataDirFlags {
  username?: string;
  passwordStdin?: boolean;
  ttl?: string;
  visibility?: string;
}

/**
 * `pier proxy add|list|remove`: proxy namespaces, pull-through caches of other registries. The
 * upstream password is read from stdin and stored sealed with the installation secret.
 */
export function registerProxy(program: Command): void {
  const proxy = program.command('proxy').description('pull-through caches of other registries (proxy namespaces)');

  dataDirOptions(
    proxy
      .command('add <namespace> <url>')
      .description('make NAMESPACE a pull-through cache of the registry at URL (NAMESPACE/library/nginx reads library/nginx there)')
      .option('--username <name>', 'the upstream account (with --password-stdin)')
      .option('--password-stdin', 'read the upstream password from stdin')
      .option('--ttl <duration>', 'check a cached tag against the upstream again after this long (default 10m)')
      .option('--visibility <who>', `who may pull through it: ${PROXY_VISIBILITIES.join(' or ')} (default public)`),
  ).action(async (namespace: string, url: string, flags: AddFlags) => {
    if ((flags.username === undefined) !== (flags.passwordStdin !== true)) {
      throw usageError('upstream credentials are --username NAME with --password-stdin (the password on stdin), both or neither');
    }
    const ttlMs = flags.ttl === undefined ? undefined : parseDuration(flags.ttl);
    if (ttlMs === undefined && flags.ttl !== undefined) throw usageError(`--ttl: expected a duration such as 30s, 10m or 24h, got "${flags.ttl}"`);
    const visibility = flags.visibility as ProxyVisibility | undefined;
    if (visibility !== undefined && !PROXY_VISIBILITIES.includes(visibility)) throw usageError(`--visibility: ${PROXY_VISIBILITIES.join(' or ')}`);
    const password = flags.passwordStdin ? await readPassword() : undefined;
    await withCore(flags, {}, async ({ hub }) => {
      const added = await hub.proxies.add(namespace, {
        url,
        ...(flags.username !== undefined && password !== undefined ? { credentials: { username: flags.username, password } } : {}),
        ...(ttlMs !== undefined ? { ttlMs } : {}),
        ...(visibility ? { visibility } : {}),
      });
      await auditCli(hub, {
        action: 'admin.proxy.created',
        target: added.namespace,
        details: { url: added.url, ...(flags.username !== undefined ? { username: flags.username } : {}), visibility: added.visibility },
      });
      process.stdout.write(`${added.namespace} is now a pull-through cache of ${added.url}: pull ${added.namespace}/<name> to read <name> there\n`);
    });
  });

  dataDirOptions(proxy.command('list').description('list the proxy namespaces').option('--json', 'print JSON')).action(async (flags: DataDirFlags & { json?: boolean }) => {
    await withCore(flags, {}, async ({ hub }) => {
      const proxies = await hub.proxies.list();
      const rows = await Promise.all(
        proxies.map(async (p) => ({
          namespace: p.namespace,
          url: p.url,
          username: p.username,
          ttl_seconds: Math.round(p.ttlMs / 1000),
          visibility: p.visibility,
          cached_repositories: await hub.proxies.cachedRepositories(p.namespace),
          mirror: hub.proxies.mirrorNamespace === p.namespace,
        })),
      );
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const table = [
        ['NAMESPACE', 'UPSTREAM', 'USER', 'TTL', 'VISIBILITY', 'CACHED'],
        ...rows.map((r) => [r.mirror ? `${r.namespace} (mirror)` : r.namespace, r.url, r.username ?? '-', `${r.ttl_seconds}s`, r.visibility, String(r.cached_repositories)]),
      ];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
      process.stdout.write(table.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n');
    });
  });

  dataDirOptions(proxy.command('remove <namespace>').description('remove a proxy namespace and what it cached (the bytes go at the next garbage collection)')).action(
    async (namespace: string, flags: DataDirFlags) => {
      await withCore(flags, {}, async ({ hub, registry }) => {
        const repositories = await hub.proxies.remove(namespace, registry);
        await auditCli(hub, { action: 'admin.proxy.deleted', target: namespace, details: { repositories: repositories.length } });
        process.stdout.write(`removed the proxy namespace ${namespace} and ${repositories.length} cached ${repositories.length === 1 ? 'repository' : 'repositories'}\n`);
      });
    },
  );
}
