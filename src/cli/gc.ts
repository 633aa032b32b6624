import type { Command } from 'commander';
import { CollectorBusy, type GcProgress, type GcReport } from '../registry/gc/collector.js';
import { parseDuration } from '../server/duration.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { CliError, usageError } from './errors.js';

interface GcFlags extends DataDirFlags {
  dryRun?: boolean;
  untagged?: boolean;
  grace?: string;
  json?: boolean;
}

/**
 * `pier gc`: online garbage collection on a server's data directory, running or stopped
 * (docs/garbage-collection.md). A progress line on a terminal, then the report.
 */
export function registerGc(program: Command): void {
  dataDirOptions(
    program
      .command('gc')
      .description('delete what nothing references any more (unreferenced blobs, and with --untagged untagged manifests), while the server runs')
      .option('--dry-run', 'report what would be deleted and the bytes it would free; change nothing')
      .option('--untagged', 'also delete manifests that no tag keeps (children of a tagged index and referrers of a kept manifest stay)')
      .option('--grace <duration>', 'nothing younger than this is deleted (default: gc.grace, one hour)')
      .option('--json', 'print the report as JSON'),
  ).action(async (flags: GcFlags) => {
    const grace = flags.grace === undefined ? undefined : parseDuration(flags.grace);
    if (flags.grace !== undefined && grace === undefined) throw usageError(`--grace expects a duration such as 30m, 1h or 0s, got "${flags.grace}"`);
    await withCore(flags, {}, async ({ registry }) => {
      const progress = process.stderr.isTTY ? progressLine() : undefined;
      let report: GcReport;
      try {
        report = await registry.gc!.collect({
          dryRun: flags.dryRun === true,
          untagged: flags.untagged === true,
          ...(grace !== undefined ? { graceMs: grace } : {}),
          trigger: 'cli',
          ...(progress ? { onProgress: progress.update } : {}),
        });
      } catch (error) {
        if (error instanceof CollectorBusy) throw new CliError(error.message);
        throw error;
      } finally {
        progress?.end();
      }
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : describe(report));
    });
  });
}

const PHASES: Record<GcProgress['phase'], string> = {
  resume: 'finishing an interrupted run',
  proxies: 'idle cached repositories',
  manifests: 'untagged manifests',
  links: 'unreferenced blob links',
  blobs: 'blobs',
};

/** One line on stderr, rewritten at most ten times a second. */
function progressLine() {
  let last = 0;
  return {
    update(progress: GcProgress) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[K${PHASES[progress.phase]}: ${progress.scanned} scanned, ${progress.collected} collected`);
    },
    end() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

export function describe(report: GcReport): string {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `${report.dryRun ? 'dry run: ' : ''}${verb} ${report.blobs} blobs (${formatBytes(report.bytesFreed)}${report.dryRun ? ' would be freed' : ' freed'})`,
    `${verb} ${report.manifests} untagged manifests${report.untagged ? '' : ' (not asked: --untagged)'}`,
  ];
  if (!report.dryRun) lines.push(`removed ${report.links} unreferenced blob links`);
  if (report.proxyRepositories > 0) lines.push(`${verb} ${report.proxyRepositories} idle repositories of the pull-through cache`);
  if (report.resumedBlobs > 0) lines.push(`finished ${report.resumedBlobs} deletions an interrupted run had started`);
  lines.push(`grace ${Math.round(report.graceMs / 1000)}s, ${(report.durationMs / 1000).toFixed(1)}s, run ${report.runId}`);
  return `${lines.join('\n')}\n`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
