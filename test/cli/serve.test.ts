import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

function pier(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the URL from the "pier is listening" log line. */
function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'pier is listening' && entry.url) resolve(entry.url);
      } catch {
        /* not JSON */
      }
    });
    child.once('exit', (code) => reject(new Error(`pier exited with ${code}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

describe('pier serve', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad config value, naming the key', async () => {
    const child = pier(['serve'], { PIER_LISTEN: 'not-an-address', PIER_DATA: '/nonexistent' });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    assert.equal(await exited(child), 2);
    assert.match(stderr, /listen \(from PIER_LISTEN\): expected host:port/);
  });

  it('answers /healthz, then on SIGTERM finishes the request in flight and exits', async () => {
    const data = await mkdtemp(join(tmpdir(), 'pier-serve-'));
    dirs.push(data);
    const child = pier(['serve', '--listen', '127.0.0.1:0', '--data', data], { PIER_LOG_LEVEL: 'info', PIER_STORAGE_FSYNC: 'false', PIER_AUTH: 'open' });
    const url = await listening(child);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);

    const post = await fetch(`${url}/v2/alice/app/blobs/uploads/`, { method: 'POST' });
    const location = post.headers.get('location')!;
    // A PATCH whose body is still streaming when SIGTERM arrives.
    const { port } = new URL(url);
    const patch = new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'PATCH', path: location, headers: { 'content-type': 'application/octet-stream', 'content-length': '10' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('hello');
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end('world'), 300);
      }, 200);
    });
    assert.equal(await patch, 202, 'the request in flight completes');
    assert.equal(await exited(child), 0);
    await assert.rejects(fetch(`${url}/healthz`), 'no longer accepting');
  });
});
