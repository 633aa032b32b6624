// The data directory is readable by the user Pier runs as only: a real `pier serve` creates its
// folders 0700 and its files 0600 (the database and its -wal/-shm, the secret, blobs, uploads),
// and at start fixes an installation an older version left open, saying so in its log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { bin, sha256 } from '../support/oci.js';
import { startReplica } from '../support/replicas.js';
import { bearer, tokenFor } from '../support/auth.js';

const ADMIN = { username: 'boss', secret: 'boss-password-1' };

/** Every path under `dir` (itself included) with its permission bits, as `0700`. */
async function modes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { '.': octal((await stat(dir)).mode) };
  for (const entry of await readdir(dir, { recursive: true })) out[entry] = octal((await stat(join(dir, entry))).mode);
  return out;
}
const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** Every mode under `dir` is private: folders 0700, files 0600. */
async function assertPrivate(dir: string): Promise<Record<string, string>> {
  const found = await modes(dir);
  for (const [path, mode] of Object.entries(found)) {
    const isDir = (await stat(join(dir, path))).isDirectory();
    assert.equal(mode, isDir ? '0700' : '0600', `${path} is ${mode}`);
  }
  return found;
}

/** What an older version left: folders 0755, files 0644. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    await chmod(path, (await stat(path)).isDirectory() ? 0o755 : 0o644);
  }
}

describe('the data directory', () => {
  let parent: string;
  after(() => parent && rm(parent, { recursive: true, force: true }));

  it('is created private by a real server: folders 0700, files 0600', async () => {
    parent = await mkdtemp(join(tmpdir(), 'pier-data-modes-'));
    const data = join(parent, 'data');
    const env = { PIER_DATA: data, PIER_AUTH: 'token', PIER_ADMIN_USER: ADMIN.username, PIER_ADMIN_PASSWORD: ADMIN.secret, PIER_STORAGE_FSYNC: 'false' };
    const server = await startReplica('fresh', env);
    try {
      const token = await tokenFor(server.url, ADMIN, ['repository:boss/app:pull,push']);
      const blob = randomBytes(1000);
      const pushed = await fetch(`${server.url}/v2/boss/app/blobs/uploads/?digest=${encodeURIComponent(sha256(blob))}`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
        body: bin(blob),
      });
      assert.equal(pushed.status, 201);
      // an upload left open: its file is in uploads/
      const started = await fetch(`${server.url}/v2/boss/app/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      const patch = await fetch(new URL(started.headers.get('location')!, server.url), { method: 'PATCH', headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, body: bin(randomBytes(100)) });
      assert.equal(patch.status, 202);

      const found = await assertPrivate(data);
      for (const path of ['pier.db', 'pier.db-wal', 'pier.db-shm', 'secret.key', 'storage', 'storage/blobs', 'storage/uploads']) assert.ok(path in found, `${path} exists: ${Object.keys(found).join(', ')}`);
      const digest = sha256(blob).slice('sha256:'.length);
      assert.equal(found[`storage/blobs/sha256/${digest.slice(0, 2)}/${digest}`], '0600');
      assert.equal(Object.keys(found).filter((p) => p.startsWith('storage/uploads/')).length, 1);
    } finally {
      await server.stop();
    }
    assert.doesNotMatch(server.output(), /made the data directory/, 'nothing to fix on a new installation');
  });

  it('is fixed at start when an older version left it open, with a log line saying what changed', async () => {
    const data = join(parent, 'data');
    await openUp(data);
    const before = await modes(data);
    assert.equal(before['.'], '0755');
    assert.equal(before['pier.db'], '0644');

    const server = await startReplica('upgraded', { PIER_DATA: data, PIER_AUTH: 'token', PIER_STORAGE_FSYNC: 'false' });
    try {
      await assertPrivate(data);
      const line = server
        .output()
        .split('\n')
        .find((l) => l.includes('made the data directory'));
      assert.ok(line, server.output());
      const entry = JSON.parse(line) as { level: number; msg: string; changed: string[]; walked: number };
      assert.equal(entry.level, 40, 'a warning');
      for (const path of [data, join(data, 'pier.db'), join(data, 'secret.key'), join(data, 'storage'), join(data, 'storage/blobs')]) {
        assert.ok(entry.changed.some((c) => c.startsWith(`${path}: `)), `${relative(parent, path)} in ${entry.msg}`);
      }
      assert.match(entry.msg, new RegExp(`${data.replace(/[/.]/g, '\\$&')}: 0755 -> 0700`));
      assert.ok(entry.walked >= 4, `the blob and upload trees were walked: ${entry.walked}`);
    } finally {
      await server.stop();
    }
  });
});
