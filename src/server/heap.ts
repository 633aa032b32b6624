import { setFlagsFromString } from 'node:v8';

/**
 * How much the old generation may grow past what survived the last full collection before the
 * next one starts: twice. V8 otherwise derives the factor from how fast the program allocated
 * lately, and after a quiet spell (a registry between pushes) it measures slow allocation and
 * drops to 1.1: the next push, whose socket buffers V8 counts as it goes, then starts a full
 * collection every megabyte or so (measured: 40-60 of them per GiB, and upload CPU tripled).
 * Pier's live heap is ~35 MB, so this costs ~35 MB at most, and only while garbage waits.
 * Set at start (a V8 flag read at each collection; node refuses it in NODE_OPTIONS), unless the
 * command line chose its own.
 */
export const HEAP_GROWING_PERCENT = 100;

export function tuneHeap(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
