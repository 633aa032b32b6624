import type { Command } from 'commander';
import { GcIndex } from '../metadata/gc-index.js';
import { checkBlobs, findOrphans, type FsckReport, type OrphanReport } from '../registry/fsck.js';
import { parseDuration } from '../server/duration.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { usageError } from './errors.js';
import { formatBytes } from './gc.js';

interface FsckFlags extends DataDirFlags {
  verify?: boolean;
  repair?: boolean;
  grace?: string;
  json?: boolean;
}

/**
 * `pier fsck`: every blob the index knows is in storage with its size (`--verify`: its digest,
 * reading every byte), and the blobs in storage that no index row knows (orphans). Beside a
 * running server. `--repair` deletes the orphans older than the grace period, and nothing else
 * (docs/garbage-collection.md says why). Exit 1 when a blob the index knows is damaged.
 */
export function registerFsck(program: Command): void {
  dataDirOptions(
    program
      .command('fsck')
      .description('check that every blob the index knows is in storage with its size (--verify: its digest), and list the blobs no index row knows (--repair deletes those older than the grace period)')
      .option('--verify', 'read every blob and check its digest (reads all of storage)')
      .option('--repair', 'delete the blobs in storage that no index row knows, when older than the grace period; nothing else')
      .option('--grace <duration>', 'orphans younger than this are left alone (default: gc.grace, one hour)')
      .option('--json', 'print the report as JSON'),
  ).action(async (flags: FsckFlags) => {
    const grace = flags.grace === undefined ? undefined : parseDuration(flags.grace);
    if (flags.grace !== undefined && grace === undefined) throw usageError(`--grace expects a duration such as 30m, 1h or 0s, got "${flags.grace}"`);
    await withCore(flags, {}, async ({ database, store }, config) => {
      const progress = process.stderr.isTTY ? progressLine() : undefined;
      const index = new GcIndex(database.db);
      const now = Date.now();
      const graceMs = grace ?? config.gc.grace;
      let report: FsckReport & { orphans?: OrphanReport };
      try {
        report = await checkBlobs(index, store, {
          verify: flags.verify === true,
          ...(progress ? { onProgress: (checked: number) => progress.update(`checking blobs: ${checked}`) } : {}),
        });
        const orphans = await findOrphans(index, store, {
          cutoff: now - graceMs,
          ...(flags.repair ? { repair: { now } } : {}),
          ...(progress ? { onProgress: (scanned: number, found: number) => progress.update(`listing storage: ${scanned} blobs, ${found} orphans`) } : {}),
        });
        if (orphans) report = { ...report, orphans };
      } finally {
        progress?.end();
      }
      process.stdout.write(flags.json ? `${JSON.stringify({ ...report, graceMs })}\n` : describeFsck(report, graceMs));
      if (report.missing + report.wrongSize + report.corrupt > 0) process.exitCode = 1;
    });
  });
}

/** One line on stderr, rewritten at most ten times a second. */
function progressLine() {
  let last = 0;
  return {
    update(line: string) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[K${line}`);
    },
    end() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

export function describeFsck(report: FsckReport & { orphans?: OrphanReport }, graceMs: number): string {
  const lines = [`checked ${report.blobs} blobs (${formatBytes(report.bytes)})${report.verified ? ', digests verified' : ''}`];
  const total = report.missing + report.wrongSize + report.corrupt;
  if (total === 0) {
    lines.push('no problem found');
  } else {
    lines.push(`${total} problems: ${report.missing} missing, ${report.wrongSize} with another size, ${report.corrupt} with another digest`);
    for (const p of report.problems) {
      if (p.problem === 'missing') lines.push(`missing ${p.digest} (${p.expected} bytes)`);
      else if (p.problem === 'size') lines.push(`size ${p.digest}: ${p.found} bytes in storage, ${p.expected} in the index`);
      else lines.push(`digest ${p.digest}: the bytes hash to ${p.found}`);
    }
    if (report.problems.length < total) lines.push(`... and ${total - report.problems.length} more`);
  }
  const orphans = report.orphans;
  if (!orphans) {
    lines.push('orphans not checked: this storage cannot list its blobs');
  } else if (orphans.orphans === 0) {
    lines.push(`no orphan in storage (${orphans.scanned} blobs listed)`);
  } else {
    const grace = `${Math.round(graceMs / 1000)}s`;
    lines.push(`${orphans.orphans} orphans in storage, blobs no index row knows (${formatBytes(orphans.bytes)}; ${orphans.recent} younger than the grace period of ${grace})`);
    for (const o of orphans.listed) lines.push(`${o.removed ? 'removed' : 'orphan'} ${o.digest} (${o.size} bytes, written ${new Date(o.modifiedAt).toISOString()})`);
    if (orphans.listed.length < orphans.orphans) lines.push(`... and ${orphans.orphans - orphans.listed.length} more`);
    const old = orphans.orphans - orphans.recent;
    if (orphans.repaired) lines.push(`removed ${orphans.removed} orphans (${formatBytes(orphans.removedBytes)} freed)`);
    else if (old > 0) lines.push(`pier fsck --repair removes the ${old} older than the grace period`);
    else lines.push('all younger than the grace period (maybe uploads being committed): --repair leaves them');
  }
  return `${lines.join('\n')}\n`;
}
