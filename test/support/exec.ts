import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** the command is killed (SIGKILL) after this long; default 120 s */
  timeoutMs?: number;
  /** written to the command's standard input (then closed) */
  input?: string;
}

/** Runs a command to completion; never throws for a non-zero exit (see `runOk`). */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const err = error as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        let code = typeof err.code === 'number' ? err.code : 127;
        let extra = '';
        if (err.killed) {
          code = 124;
          extra = `\n[killed after ${timeoutMs} ms]`;
        } else if (typeof err.code === 'string') {
          extra = `\n[${err.code}: ${err.message}]`;
        }
        resolve({ code, stdout, stderr: stderr + extra });
      },
    );
    child.stdin?.on('error', () => {}); // a command that exits without reading its input
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs a command and throws, with its full output, unless it exits 0. */
export async function runOk(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`\`${command} ${args.join(' ')}\` exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  return result;
}

/** Whether `name` is an executable on PATH (or an absolute path to one). */
export async function which(name: string): Promise<string | undefined> {
  const result = await run('sh', ['-c', 'command -v "$1"', 'sh', name], { timeoutMs: 10_000 });
  const path = result.stdout.trim();
  return result.code === 0 && path ? path : undefined;
}

/**
 * Whether a file that a Debian package installs is there (a library's sources, which no command
 * stands for). .ci/tools lists the path with its package, so .ci/run installs it on a fresh machine;
 * test/ci-tools.test.ts holds every path given here to that.
 */
export async function installedFile(path: string, pkg: string): Promise<Availability<string>> {
  return access(path).then(
    () => ({ ok: true, value: path }),
    () => ({ ok: false, reason: `${path} not found (apt-get install ${pkg})` }),
  );
}

/**
 * External tools (docker, skopeo) are optional on a developer machine: the tests that need one
 * are skipped with the reason. Under CI=true a missing tool is a failure, never a silent skip.
 */
export type Availability<T> = { ok: true; value: T } | { ok: false; reason: string };

export const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Options for `describe`: skip with the reason when the tool is missing, unless in CI. */
export function skipUnless(availability: Availability<unknown>): { skip?: string } {
  if (availability.ok || inCi) return {};
  return { skip: availability.reason };
}

/** Call in `before`: under CI=true, a missing tool fails the suite with the reason. */
export function requireTool<T>(availability: Availability<T>): T {
  if (availability.ok) return availability.value;
  throw new Error(`${availability.reason} (CI=true: end-to-end tools are required, not skipped)`);
}
