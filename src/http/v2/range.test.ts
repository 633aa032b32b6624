import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from '../../oci/errors.js';
import { parseContentRange, parseRangeHeader } from './range.js';

const unsatisfiable = (e: unknown) => e instanceof OciError && e.status === 416 && e.headers['content-range'] === 'bytes */10';

describe('parseRangeHeader', () => {
  it('resolves the three forms against the size', () => {
    assert.deepEqual(parseRangeHeader('bytes=0-4', 10), { start: 0, end: 4 });
    assert.deepEqual(parseRangeHeader('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-30', 10), { start: 0, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=8-100', 10), { start: 8, end: 9 });
  });

  it('ignores other units and multiple ranges', () => {
    assert.equal(parseRangeHeader(undefined, 10), undefined);
    assert.equal(parseRangeHeader('items=0-1', 10), undefined);
    assert.equal(parseRangeHeader('bytes=0-1,3-4', 10), undefined);
  });

  it('answers 416 for ranges it cannot satisfy', () => {
    for (const bad of ['bytes=10-', 'bytes=5-2', 'bytes=-0', 'bytes=x-y', 'bytes=-']) assert.throws(() => parseRangeHeader(bad, 10), unsatisfiable);
  });
});

describe('parseContentRange', () => {
  it('reads the spec form and the forms clients write', () => {
    assert.deepEqual(parseContentRange('0-21'), { start: 0, end: 21 });
    assert.deepEqual(parseContentRange('bytes 22-41/42'), { start: 22, end: 41 });
    assert.deepEqual(parseContentRange('bytes=22-41'), { start: 22, end: 41 });
    assert.throws(() => parseContentRange('5-2'), (e: unknown) => e instanceof OciError && e.status === 416);
    assert.throws(() => parseContentRange('abc'), (e: unknown) => e instanceof OciError && e.status === 416);
  });
});
