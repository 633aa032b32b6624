import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runOk, which, type Availability, type RunOptions, type RunResult } from './exec.js';

let found: Promise<Availability<string>> | undefined;

/** PIER_TEST_SKOPEO, or skopeo on PATH, if it runs. */
export function findSkopeo(): Promise<Availability<string>> {
  found ??= (async (): Promise<Availability<string>> => {
    const wanted = process.env.PIER_TEST_SKOPEO || 'skopeo';
    const path = await which(wanted);
    if (!path) return { ok: false, reason: `${wanted} not found (apt-get install skopeo, or set PIER_TEST_SKOPEO)` };
    const version = await run(path, ['--version'], { timeoutMs: 15_000 });
    if (version.code !== 0) return { ok: false, reason: `\`skopeo --version\` failed: ${version.stderr}` };
    return { ok: true, value: path };
  })();
  return found;
}

/**
 * skopeo with its own policy (accept anything) and auth file in a temp dir, so that the tests
 * depend neither on /etc/containers/policy.json nor on the user's credentials.
 */
export class SkopeoClient {
  private constructor(
    readonly binary: string,
    readonly dir: string,
  ) {}

  static async create(binary: string): Promise<SkopeoClient> {
    const dir = await mkdtemp(join(tmpdir(), 'pier-skopeo-'));
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(join(dir, 'auth.json'), '{"auths":{}}');
    return new SkopeoClient(binary, dir);
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, REGISTRY_AUTH_FILE: join(this.dir, 'auth.json') };
  }

  /** global options go before the subcommand */
  private args(args: string[]): string[] {
    return ['--policy', join(this.dir, 'policy.json'), '--tmpdir', this.dir, ...args];
  }

  ok(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runOk(this.binary, this.args(args), { timeoutMs: 180_000, ...options, env: this.env });
  }

  run(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return run(this.binary, this.args(args), { timeoutMs: 180_000, ...options, env: this.env });
  }

  cleanup(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}
