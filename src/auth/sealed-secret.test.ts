import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { lazySecretBox, SecretBox } from './sealed-secret.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, and never shows the secret in the sealed form', () => {
    const sealed = box.seal('hunter2 upstream password', 'proxy hub');
    assert.match(sealed, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(!sealed.includes('hunter2'));
    assert.equal(box.open(sealed, 'proxy hub'), 'hunter2 upstream password');
    assert.notEqual(box.seal('same', 'proxy hub'), box.seal('same', 'proxy hub'), 'a fresh IV each time');
  });

  it('refuses another context, another secret and altered bytes', () => {
    const sealed = box.seal('secret', 'proxy hub');
    assert.throws(() => box.open(sealed, 'proxy ghcr'), /do not open with this installation secret/);
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'proxy hub'), /do not open/);
    const parts = sealed.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0]! ^= 1;
    assert.throws(() => box.open([...parts.slice(0, 3), ciphertext.toString('base64url')].join('.'), 'proxy hub'), /do not open/);
    assert.throws(() => box.open('plain text', 'proxy hub'), /not in a known format/);
  });

  it('reads the installation secret once, on first use, and again after a failure', async () => {
    let loads = 0;
    let fail = true;
    const get = lazySecretBox(async () => {
      loads++;
      if (fail) throw new Error('no secret file');
      return randomBytes(32);
    });
    assert.equal(loads, 0);
    await assert.rejects(get(), /no secret file/);
    fail = false;
    const first = await get();
    assert.equal(await get(), first);
    assert.equal(loads, 2);
  });
});
