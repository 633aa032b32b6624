import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadInstallationSecret } from './installation-secret.js';

describe('installation secret', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pier-secret-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const dir = async () => mkdtemp(join(root, 'd-'));

  it('is generated on first start: 32 bytes, mode 0600, stable across calls', async () => {
    const dataDir = join(await dir(), 'nested', 'data');
    const first = await loadInstallationSecret({ dataDir });
    assert.equal(first.length, 32);
    const path = join(dataDir, 'secret.key');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(await readFile(path, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.deepEqual(await loadInstallationSecret({ dataDir }), first);
    assert.deepEqual(await readdir(dataDir), ['secret.key']);
  });

  it('concurrent first starts agree on one secret', async () => {
    const dataDir = await dir();
    const secrets = await Promise.all(Array.from({ length: 16 }, () => loadInstallationSecret({ dataDir })));
    for (const secret of secrets) assert.deepEqual(secret, secrets[0]);
    assert.deepEqual(await readdir(dataDir), ['secret.key'], 'temporary files are removed');
  });

  it('different data directories get different secrets', async () => {
    assert.notDeepEqual(await loadInstallationSecret({ dataDir: await dir() }), await loadInstallationSecret({ dataDir: await dir() }));
  });

  it('reads a given file: raw, hex, base64, base64url, whitespace trimmed; ignores the data directory', async () => {
    const d = await dir();
    const bytes = randomBytes(32);
    const forms: Array<[string, Buffer | string]> = [
      ['raw', bytes],
      ['hex', bytes.toString('hex')],
      ['HEX', `  ${bytes.toString('hex').toUpperCase()}\r\n`],
      ['base64', `${bytes.toString('base64')}\n`],
      ['base64url', bytes.toString('base64url')],
      ['base64-unpadded', bytes.toString('base64').replace(/=$/, '')],
    ];
    for (const [name, content] of forms) {
      const file = join(d, name);
      await writeFile(file, content);
      assert.deepEqual(await loadInstallationSecret({ file, dataDir: join(d, 'unused') }), bytes, name);
    }
    await assert.rejects(stat(join(d, 'unused', 'secret.key')));
  });

  it('raw bytes that look like whitespace are kept', async () => {
    const d = await dir();
    const bytes = Buffer.concat([Buffer.from('  \n'), randomBytes(27), Buffer.from(' \n')]);
    const file = join(d, 'raw');
    await writeFile(file, bytes);
    assert.deepEqual(await loadInstallationSecret({ file, dataDir: d }), bytes);
  });

  it('a bad or missing file is an error naming the file', async () => {
    const d = await dir();
    const bad: Array<Buffer | string> = [
      '',
      'secret',
      randomBytes(31),
      randomBytes(33),
      randomBytes(31).toString('hex'),
      `${randomBytes(32).toString('hex')}00`,
      randomBytes(20).toString('base64'),
      randomBytes(48).toString('base64'),
      `${randomBytes(32).toString('hex').slice(0, 63)}g`,
    ];
    for (const [i, content] of bad.entries()) {
      const file = join(d, `bad-${i}`);
      await writeFile(file, content);
      await assert.rejects(loadInstallationSecret({ file, dataDir: d }), (e: Error) => e.message.includes(file), String(i));
    }
    const missing = join(d, 'missing.key');
    await assert.rejects(loadInstallationSecret({ file: missing, dataDir: d }), (e: Error) => e.message.includes(missing));
  });

  it('a corrupt secret.key in the data directory is an error, not replaced', async () => {
    const dataDir = await dir();
    await writeFile(join(dataDir, 'secret.key'), 'not a secret\n');
    await assert.rejects(loadInstallationSecret({ dataDir }), /secret\.key/);
    assert.equal(await readFile(join(dataDir, 'secret.key'), 'utf8'), 'not a secret\n');
  });
});
