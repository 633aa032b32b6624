import type { Command } from 'commander';
import { GcIndex } from '../metadata/gc-index.js';
import { checkBlobs, type FsckReport } from '../registry/fsck.js';
import { dataDirOptions, withCore, type DataDirFlags } from './data-dir.js';
import { formatBytes } from './gc.js';

interface FsckFlags extends DataDirFlags {
  verify?: boolean;
  json?: boolean;
}

/**
 * `pier fsck`: every blob the index knows is in storage with its size (`--verify`: its digest,
 * reading every byte). Read-only, beside a running server. Exit 1 when a problem is found.
 */
export function registerFsck(program: Command): void {
  dataDirOptions(
    program
      .command('fsck')
      .description('check that every blob the index knows is in storage with its size (--verify: its digest); changes nothing')
      .option('--verify', 'read every blob and check its digest (reads all of storage)')
      .option('--json', 'print the report as JSON'),
  ).action(async (flags: FsckFlags) => {
    await withCore(flags, {}, async ({ database, store }) => {
      const tty = process.stderr.isTTY;
      let last = 0;
      const report = await checkBlobs(new GcIndex(database.db), store, {
        verify: flags.verify === true,
        ...(tty
          ? {
              onProgress: (checked: number) => {
                if (Date.now() - last < 100) return;
                last = Date.now();
                process.stderr.write(`\r\x1b[Kchecking blobs: ${checked}`);
              },
            }
          : {}),
      });
      if (tty) process.stderr.write('\r\x1b[K');
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : describeFsck(report));
      if (report.missing + report.wrongSize + report.corrupt > 0) process.exitCode = 1;
    });
  });
}

export function describeFsck(report: FsckReport): string {
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
  return `${lines.join('\n')}\n`;
}
