import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildStep, platformName, shortDigest } from './tags';

describe('tag formatting', () => {
  it('names platforms the way docker does', () => {
    assert.equal(platformName({ os: 'linux', architecture: 'arm64', variant: 'v8' }), 'linux/arm64/v8');
    assert.equal(platformName({ os: 'linux', architecture: 'amd64', variant: null }), 'linux/amd64');
    assert.equal(platformName({ os: null, architecture: null, variant: null }), '');
  });

  it('shortens digests to 12 hex digits', () => {
    assert.equal(shortDigest(`sha256:${'ab'.repeat(32)}`), 'sha256:abababababab');
  });

  it('writes build steps as a Dockerfile would', () => {
    assert.equal(buildStep('/bin/sh -c #(nop) COPY file:abc in /a.bin '), 'COPY file:abc in /a.bin ');
    assert.equal(buildStep('/bin/sh -c #(nop)  CMD ["sh"]'), 'CMD ["sh"]');
    assert.equal(buildStep('/bin/sh -c apk add curl'), 'RUN apk add curl');
    assert.equal(buildStep('RUN /bin/sh -c make # buildkit'), 'RUN /bin/sh -c make # buildkit');
  });
});
