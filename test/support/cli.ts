/** Runs the `pier` command as a user would: a child process, stdin given, stdout and stderr captured. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../../src/server/config.js';
import { openCore, type PierCore } from '../../src/server/core.js';

const root = new URL('../..', import.meta.url).pathname;

export interface PierRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runPier(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<PierRun> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, PIER_STORAGE_FSYNC: 'false', ...options.env };
    // the test runner's own PIER_* settings must not leak into the command
    for (const key of ['PIER_DATA', 'PIER_CONFIG']) if (!options.env?.[key]) delete env[key];
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Opens a data directory the way the commands do, to prepare it or check what they did. */
export async function withData<T>(data: string, run: (core: PierCore) => Promise<T>): Promise<T> {
  const core = await openCore(loadConfig({ env: {}, overrides: { data, 'storage.fsync': false } }));
  try {
    return await run(core);
  } finally {
    await core.close();
  }
}
