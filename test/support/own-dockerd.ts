/**
 * A Docker daemon of a test's own, for settings the shared one must not change (a registry mirror):
 * its own data and exec roots, socket, pid file and an empty config file, so nothing of the shared
 * daemon (or /etc/docker/daemon.json) is touched. It runs no container: it only pulls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, which, type Availability } from './exec.js';

export interface OwnDockerd {
  /** unix:///tmp/.../docker.sock */
  host: string;
  log(): string;
  stop(): Promise<void>;
}

export async function findDockerd(): Promise<Availability<string>> {
  if (!(await which('docker'))) return { ok: false, reason: 'docker CLI not found on PATH' };
  const dockerd = (await which('dockerd')) ?? (await which('/usr/sbin/dockerd'));
  if (!dockerd) return { ok: false, reason: 'dockerd is not installed (apt-get install docker.io)' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'a daemon of its own (registry-mirrors) needs root' };
  return { ok: true, value: dockerd };
}

/** Starts dockerd with `flags` added; resolves once `docker version` answers on its socket. */
export async function startOwnDockerd(binary: string, flags: string[]): Promise<OwnDockerd> {
  // short: the daemon's sockets live under it and a unix socket path holds at most 107 bytes
  const dir = await mkdtemp('/tmp/pdm-');
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  await writeFile(join(dir, 'daemon.json'), '{}\n');
  const child: ChildProcess = spawn(
    binary,
    [
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--storage-driver=vfs',
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '--config-file', join(dir, 'daemon.json'),
      '-H', host,
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const version = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONTEXT: '' }, timeoutMs: 10_000 });
    if (version.code === 0 && version.stdout.trim()) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not start on ${host}:\n${output.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { host, log: () => output, stop };
}
