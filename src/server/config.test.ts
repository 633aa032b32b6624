import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseListen } from './config.js';

describe('loadConfig', () => {
  it('has defaults for a fresh machine', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.listen, '127.0.0.1:5000');
    assert.equal(config.data, join(process.cwd(), 'data'));
    assert.equal(config.uploads.ttl, 24 * 3600_000);
    assert.equal(config.manifests.maxBytes, 4 * 1024 * 1024);
    assert.equal(config.database.url, undefined);
  });

  it('takes a PostgreSQL URL for the database, and nothing else', () => {
    const url = 'postgres://pier:secret@db.example:5432/pier?schema=pier';
    assert.equal(loadConfig({ env: { PIER_DATABASE_URL: url } }).database.url, url);
    assert.equal(loadConfig({ env: { PIER_DATABASE_URL: 'postgresql://127.0.0.1/pier' } }).database.url, 'postgresql://127.0.0.1/pier');
    for (const bad of ['mysql://127.0.0.1/pier', 'sqlite:///tmp/pier.db', 'postgres://']) {
      assert.throws(() => loadConfig({ env: { PIER_DATABASE_URL: bad } }), (e: unknown) => e instanceof ConfigError && /database\.url \(from PIER_DATABASE_URL\)/.test(e.message), bad);
    }
  });

  it('reads YAML and JSON files; environment overrides the file, flags override both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pier-config-'));
    const yaml = join(dir, 'pier.yaml');
    await writeFile(yaml, 'listen: 0.0.0.0:6000\ndata: /srv/pier\nuploads:\n  ttl: 2h\n');
    const json = join(dir, 'pier.json');
    await writeFile(json, JSON.stringify({ logLevel: 'warn', storage: { fsync: false } }));
    assert.equal(loadConfig({ file: yaml, env: {} }).uploads.ttl, 2 * 3600_000);
    assert.equal(loadConfig({ file: yaml, env: { PIER_LISTEN: '127.0.0.1:7000' } }).listen, '127.0.0.1:7000');
    assert.equal(loadConfig({ env: { PIER_CONFIG: yaml, PIER_DATA: '/tmp/x' }, overrides: { data: '/tmp/y' } }).data, '/tmp/y');
    const fromJson = loadConfig({ file: json, env: {} });
    assert.equal(fromJson.logLevel, 'warn');
    assert.equal(fromJson.storage.fsync, false);
  });

  it('stops on a bad value with a message that names the key and where it came from', async () => {
    assert.throws(() => loadConfig({ env: { PIER_LISTEN: 'nowhere' } }), (e: unknown) => e instanceof ConfigError && /listen \(from PIER_LISTEN\)/.test(e.message));
    assert.throws(() => loadConfig({ env: { PIER_UPLOAD_TTL: 'soon' } }), (e: unknown) => e instanceof ConfigError && /uploads\.ttl/.test(e.message) && /soon/.test(e.message));
    const dir = await mkdtemp(join(tmpdir(), 'pier-config-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'listn: 1.2.3.4:5\n');
    assert.throws(() => loadConfig({ file, env: {} }), (e: unknown) => e instanceof ConfigError && /listn/.test(e.message));
    await writeFile(file, 'manifests:\n  maxBytes: 10\n');
    assert.throws(() => loadConfig({ file, env: {} }), (e: unknown) => e instanceof ConfigError && /manifests\.maxBytes/.test(e.message));
    assert.throws(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} }), ConfigError);
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:5000'), { host: '127.0.0.1', port: 5000 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen(':80'), { host: '0.0.0.0', port: 80 });
    assert.equal(parseListen('localhost'), undefined);
    assert.equal(parseListen('a:99999'), undefined);
  });
});
