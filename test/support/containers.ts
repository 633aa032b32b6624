import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runOk, which, type Availability, type RunOptions, type RunResult } from './exec.js';

/** The tools of containers/image and containers/storage that the tests drive, without a daemon. */
export type ContainersTool = 'buildah' | 'podman';

const found = new Map<ContainersTool, Promise<Availability<string>>>();

/** PIER_TEST_BUILDAH, or buildah on PATH, if it runs. */
export function findBuildah(): Promise<Availability<string>> {
  return find('buildah', process.env.PIER_TEST_BUILDAH || 'buildah');
}

/** PIER_TEST_PODMAN, or podman on PATH, if it runs. */
export function findPodman(): Promise<Availability<string>> {
  return find('podman', process.env.PIER_TEST_PODMAN || 'podman');
}

function find(tool: ContainersTool, wanted: string): Promise<Availability<string>> {
  let answer = found.get(tool);
  if (!answer) {
    answer = (async (): Promise<Availability<string>> => {
      const path = await which(wanted);
      if (!path) return { ok: false, reason: `${wanted} not found (apt-get install ${tool})` };
      const version = await run(path, ['--version'], { timeoutMs: 15_000 });
      if (version.code !== 0) return { ok: false, reason: `\`${tool} --version\` failed: ${version.stderr}` };
      if (process.getuid?.() !== 0) return { ok: false, reason: `${tool} runs here as root (its storage is a private vfs store, no user namespace)` };
      return { ok: true, value: path };
    })();
    found.set(tool, answer);
  }
  return answer;
}

/**
 * buildah or podman with everything of its own in a temp dir: image storage (the vfs driver, which
 * needs no overlay mount), run state, a policy that accepts any image, registries.conf,
 * containers.conf and credentials. Nothing on the machine (/var/lib/containers, the user's
 * auth.json) is read or written, and no daemon runs.
 */
export class ContainersClient {
  private constructor(
    readonly tool: ContainersTool,
    readonly binary: string,
    readonly dir: string,
  ) {}

  static async create(tool: ContainersTool, binary: string): Promise<ContainersClient> {
    const dir = await mkdtemp(join(tmpdir(), `pier-${tool}-`));
    await mkdir(join(dir, 'tmp'));
    await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(join(dir, 'auth.json'), '{"auths":{}}');
    await writeFile(join(dir, 'registries.conf'), 'unqualified-search-registries = []\n');
    // no events journal, cgroups without systemd: nothing here needs a service of the machine
    await writeFile(join(dir, 'containers.conf'), '[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n');
    await writeFile(
      join(dir, 'storage.conf'),
      `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'storage')}"\nrunroot = "${join(dir, 'run')}"\n`,
    );
    return new ContainersClient(tool, binary, dir);
  }

  /** the policy file, for the commands that take `--signature-policy` */
  get policy(): string {
    return join(this.dir, 'policy.json');
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      REGISTRY_AUTH_FILE: join(this.dir, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: join(this.dir, 'registries.conf'),
      CONTAINERS_CONF: join(this.dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: join(this.dir, 'storage.conf'),
      TMPDIR: join(this.dir, 'tmp'),
    };
  }

  /** `TOOL ARGS`, throwing with the output unless it exits 0 */
  ok(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runOk(this.binary, args, { timeoutMs: 180_000, ...options, env: this.env });
  }

  /** `TOOL ARGS`, whatever its exit code */
  run(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return run(this.binary, args, { timeoutMs: 180_000, ...options, env: this.env });
  }

  /** removes every image and container it made, then its folder */
  async cleanup(): Promise<void> {
    if (this.tool === 'buildah') await this.run(['rm', '--all'], { timeoutMs: 60_000 });
    await this.run(['rmi', '--all', '--force'], { timeoutMs: 60_000 });
    await rm(this.dir, { recursive: true, force: true });
  }
}
