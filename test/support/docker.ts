import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inCi, run, runOk, which, type Availability, type RunOptions, type RunResult } from './exec.js';

/** The socket scripts/start-dockerd.sh uses unless PIER_DOCKERD_SOCKET / PIER_DOCKERD_DIR say otherwise. */
export function defaultDockerHost(): string {
  const socket = process.env.PIER_DOCKERD_SOCKET ?? join(process.env.PIER_DOCKERD_DIR ?? '/tmp/pier-dockerd', 'docker.sock');
  return `unix://${socket}`;
}

const startScript = new URL('../../scripts/start-dockerd.sh', import.meta.url).pathname;

async function answers(host: string): Promise<boolean> {
  const result = await run('docker', ['version', '--format', '{{.Server.Version}}'], {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONTEXT: '' },
    timeoutMs: 15_000,
  });
  return result.code === 0 && result.stdout.trim() !== '';
}

let found: Promise<Availability<string>> | undefined;

/**
 * The Docker daemon for the tests, as a DOCKER_HOST:
 * 1. PIER_TEST_DOCKER_HOST, if set (it must answer);
 * 2. the default socket of scripts/start-dockerd.sh, if a daemon answers there;
 * 3. a daemon started by scripts/start-dockerd.sh, if dockerd is installed and we are root.
 * The developer's own daemon (/var/run/docker.sock) is never used unless named in PIER_TEST_DOCKER_HOST.
 */
export function findDockerDaemon(): Promise<Availability<string>> {
  found ??= (async (): Promise<Availability<string>> => {
    if (!(await which('docker'))) return { ok: false, reason: 'docker CLI not found on PATH' };
    const explicit = process.env.PIER_TEST_DOCKER_HOST;
    if (explicit) {
      return (await answers(explicit))
        ? { ok: true, value: explicit }
        : { ok: false, reason: `no Docker daemon answers on PIER_TEST_DOCKER_HOST=${explicit}` };
    }
    const host = defaultDockerHost();
    if (await answers(host)) return { ok: true, value: host };
    const dockerd = (await which('dockerd')) ?? (await which('/usr/sbin/dockerd'));
    if (!dockerd) {
      return { ok: false, reason: `no Docker daemon on ${host} and dockerd is not installed (set PIER_TEST_DOCKER_HOST to use another daemon)` };
    }
    if (process.getuid?.() !== 0) {
      return {
        ok: false,
        reason: `no Docker daemon on ${host} and not root to start one: run \`sudo scripts/start-dockerd.sh\` or set PIER_TEST_DOCKER_HOST`,
      };
    }
    const started = await run('bash', [startScript], { env: { ...process.env, DOCKERD: dockerd }, timeoutMs: 150_000 });
    const printed = started.stdout.trim().split('\n').pop() ?? '';
    if (started.code !== 0 || !printed) {
      return { ok: false, reason: `scripts/start-dockerd.sh failed (exit ${started.code}):\n${started.stderr}` };
    }
    return (await answers(printed)) ? { ok: true, value: printed } : { ok: false, reason: `dockerd started but does not answer on ${printed}` };
  })();
  return found;
}

export { inCi };

export interface BuiltImage {
  /** the image ID (the digest of its config) */
  id: string;
  /** diff IDs, one per file, in order */
  layers: string[];
}

/** A docker CLI bound to one daemon and a throw-away DOCKER_CONFIG (never ~/.docker). */
export class DockerClient {
  /** tags and IDs of the images buildImage made, removed by cleanup() */
  private readonly built = new Set<string>();

  private constructor(
    readonly host: string,
    readonly configDir: string,
  ) {}

  static async create(host: string): Promise<DockerClient> {
    return new DockerClient(host, await mkdtemp(join(tmpdir(), 'pier-docker-config-')));
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      DOCKER_HOST: this.host,
      DOCKER_CONFIG: this.configDir,
      DOCKER_CONTEXT: '',
      DOCKER_BUILDKIT: '0',
      DOCKER_CLI_HINTS: 'false',
    };
  }

  /** `docker ARGS`, throwing with the output unless it exits 0 */
  ok(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runOk('docker', args, { timeoutMs: 180_000, ...options, env: this.env });
  }

  /** `docker ARGS`, whatever its exit code */
  run(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return run('docker', args, { timeoutMs: 180_000, ...options, env: this.env });
  }

  async inspectImage(ref: string): Promise<{ Id: string; RepoDigests: string[]; RepoTags: string[]; RootFS: { Layers: string[] } }> {
    const { stdout } = await this.ok(['image', 'inspect', '--format', '{{json .}}', ref], { timeoutMs: 30_000 });
    return JSON.parse(stdout) as { Id: string; RepoDigests: string[]; RepoTags: string[]; RootFS: { Layers: string[] } };
  }

  /**
   * Builds a `FROM scratch` image with one COPY layer per file (in order: `{ 'a.bin': bytes }`,
   * paths may name folders), tagged `tag`. The daemon runs no container for that (a COPY-only
   * Dockerfile, DOCKER_BUILDKIT=0); the build context is a temporary folder, removed afterwards,
   * and the image goes at cleanup().
   */
  async buildImage(files: Record<string, Uint8Array>, tag: string): Promise<BuiltImage> {
    const context = await mkdtemp(join(tmpdir(), 'pier-docker-build-'));
    try {
      const lines = ['FROM scratch'];
      for (const [path, bytes] of Object.entries(files)) {
        await mkdir(join(context, dirname(path)), { recursive: true });
        await writeFile(join(context, path), bytes);
        lines.push(`COPY ${path} /${path}`);
      }
      await writeFile(join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
      this.built.add(tag);
      await this.ok(['build', '--quiet', '--tag', tag, context]);
      const image = await this.inspectImage(tag);
      this.built.add(image.Id);
      return { id: image.Id, layers: image.RootFS.Layers };
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }

  /** removes images (ignores ones already gone), those buildImage made, and the config directory */
  async cleanup(refs: Iterable<string> = []): Promise<void> {
    const list = [...new Set([...refs, ...this.built])];
    if (list.length > 0) await this.run(['rmi', '--force', ...list], { timeoutMs: 60_000 });
    await rm(this.configDir, { recursive: true, force: true });
  }
}
