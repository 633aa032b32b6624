import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkGuard, parseNetwork } from './network-guard.js';
import { signatureHeader, verifySignature } from './signature.js';

describe('the network guard of webhooks', () => {
  it('refuses loopback, link-local (metadata), private, shared, multicast and unspecified addresses, IPv4 mapped into IPv6 included', () => {
    const guard = new NetworkGuard();
    for (const address of ['127.0.0.1', '127.8.9.10', '169.254.169.254', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.1', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254']) {
      assert.ok(guard.refusal(address), `${address} is refused`);
    }
    assert.equal(guard.refusal('169.254.169.254'), 'link-local (cloud metadata)');
    for (const address of ['93.184.216.34', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(guard.refusal(address), undefined, `${address} is allowed`);
  });

  it('allows only the ranges the configuration names', () => {
    const guard = new NetworkGuard(['127.0.0.1/32', '10.1.0.0/16', 'fd12::/16']);
    assert.equal(guard.refusal('127.0.0.1'), undefined);
    assert.equal(guard.refusal('127.0.0.2'), 'loopback');
    assert.equal(guard.refusal('10.1.200.3'), undefined);
    assert.equal(guard.refusal('10.2.0.1'), 'private');
    assert.equal(guard.refusal('fd12::5'), undefined);
    assert.equal(guard.refusal('169.254.169.254'), 'link-local (cloud metadata)');
  });

  it('parses networks and says what is wrong with one', () => {
    assert.deepEqual(parseNetwork('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, type: 'ipv4' });
    assert.deepEqual(parseNetwork('192.168.1.5'), { address: '192.168.1.5', prefix: 32, type: 'ipv4' });
    assert.deepEqual(parseNetwork('fd00::/8'), { address: 'fd00::', prefix: 8, type: 'ipv6' });
    assert.throws(() => parseNetwork('example.com/8'), /is not a network/);
    assert.throws(() => parseNetwork('10.0.0.0/33'), /bad prefix length: expected 0 to 32/);
    assert.throws(() => parseNetwork('10.0.0.0/x'), /bad prefix length/);
  });
});

describe('the signature of deliveries', () => {
  it('signs "<t>.<body>" and checks the body, the secret and the age', () => {
    const header = signatureHeader('whsec_a', '{"a":1}', 1_700_000_000);
    assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
    assert.equal(verifySignature('whsec_a', '{"a":1}', header, 1_700_000_010), true);
    assert.equal(verifySignature('whsec_b', '{"a":1}', header, 1_700_000_010), false);
    assert.equal(verifySignature('whsec_a', '{"a":2}', header, 1_700_000_010), false);
    assert.equal(verifySignature('whsec_a', '{"a":1}', header, 1_700_001_000), false, 'too old');
    assert.equal(verifySignature('whsec_a', '{"a":1}', header.replace('t=1700000000', 't=1700000001'), 1_700_000_010), false, 'the time is signed');
  });
});
