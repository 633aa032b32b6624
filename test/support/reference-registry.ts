/**
 * The reference registry (distribution 2.8, Debian's `docker-registry`) as an upstream and a
 * replication target: a process of its own on a free port, its config and storage in a temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk, which, type Availability } from './exec.js';

export interface ReferenceRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function findReferenceRegistry(): Promise<Availability<string>> {
  const path = (await which('docker-registry')) ?? (await which('/usr/bin/docker-registry'));
  return path ? { ok: true, value: path } : { ok: false, reason: 'docker-registry (the reference registry) not found (apt-get install docker-registry)' };
}

/** A free TCP port on 127.0.0.1 (a process of ours listens there next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** `htpasswd` (apache2-utils) writes the bcrypt file that the reference registry's Basic auth reads. */
export async function findHtpasswd(): Promise<Availability<string>> {
  const path = await which('htpasswd');
  return path ? { ok: true, value: path } : { ok: false, reason: 'htpasswd not found (apt-get install apache2-utils)' };
}

/** `basic`: the registry asks for these credentials (Basic auth, from an htpasswd file). */
export async function startReferenceRegistry(binary: string, options: { basic?: { username: string; password: string } } = {}): Promise<ReferenceRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'pier-reference-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  const auth: string[] = [];
  if (options.basic) {
    const { stdout } = await runOk('htpasswd', ['-Bbn', options.basic.username, options.basic.password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    auth.push('auth:', '  htpasswd:', '    realm: pier-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      ...auth,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answered = await fetch(`${url}/v2/`).then(
      (res) => res.status === 200 || (options.basic !== undefined && res.status === 401),
      () => false,
    );
    if (answered) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`the reference registry did not start on ${url}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
