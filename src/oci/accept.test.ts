import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accepts, parseAccept } from './accept.js';

describe('parseAccept', () => {
  it('treats no header and wildcards as anything', () => {
    assert.equal(parseAccept(undefined), undefined);
    assert.equal(parseAccept('*/*'), undefined);
    assert.equal(parseAccept('application/json, */*;q=0.1'), undefined);
  });

  it('joins repeated headers and drops parameters', () => {
    const set = parseAccept(['application/vnd.oci.image.index.v1+json; q=0.5', 'application/vnd.docker.distribution.manifest.v2+json']);
    assert.ok(accepts(set, 'application/vnd.oci.image.index.v1+json'));
    assert.ok(accepts(set, 'application/vnd.docker.distribution.manifest.v2+json'));
    assert.ok(!accepts(set, 'application/vnd.oci.image.manifest.v1+json'));
  });

  it('reads q=0 as a refusal', () => {
    const set = parseAccept('application/vnd.oci.image.index.v1+json;q=0, application/vnd.oci.image.manifest.v1+json');
    assert.ok(!accepts(set, 'application/vnd.oci.image.index.v1+json'));
    assert.ok(accepts(set, 'application/vnd.oci.image.manifest.v1+json'));
  });
});
