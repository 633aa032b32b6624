import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_COPY_BYTES, MAX_PARTS, planCopyParts } from './compose.js';
import { MIN_SEGMENT_BYTES, piecesOf, planAppend, segmentChain, segmentName } from './segments.js';

const MiB = 1024 * 1024;
const listed = (...segments: Array<[number, number]>) => [
  { name: '.created', size: 0 },
  ...segments.map(([start, size]) => ({ name: segmentName(start), size })),
];

describe('S3 upload segments', () => {
  it('names segments so that key order is offset order', () => {
    assert.equal(segmentName(0), '0000000000000000');
    assert.equal(segmentName(5 * MiB), '0000000005242880');
    assert.throws(() => segmentName(-1), RangeError);
  });

  it('chains segments in offset order; a later segment cuts the one before', () => {
    const chain = segmentChain('u', [...listed([6 * MiB, 2 * MiB], [0, 7 * MiB])].reverse());
    assert.equal(chain.size, 8 * MiB);
    assert.deepEqual(
      chain.segments.map((s) => [s.start, s.size, s.length]),
      [
        [0, 7 * MiB, 6 * MiB],
        [6 * MiB, 2 * MiB, 2 * MiB],
      ],
    );
    assert.deepEqual(segmentChain('u', listed()), { segments: [], size: 0, superseded: [] });
  });

  it('refuses a chain with a gap or without its start', () => {
    assert.throws(() => segmentChain('u', listed([0, 5 * MiB], [6 * MiB, 1])), /upload u is inconsistent: the segment at 0 holds 5242880 bytes, the next starts at 6291456/);
    assert.throws(() => segmentChain('u', listed([5 * MiB, 1])), /first segment starts at 5242880, not 0/);
  });

  it('cuts the pieces of a commit or a reread at the size', () => {
    const chain = segmentChain('u', listed([0, 7 * MiB], [6 * MiB, 6 * MiB]));
    assert.deepEqual(piecesOf(chain, 0), []);
    assert.deepEqual(
      piecesOf(chain, 3 * MiB).map((p) => [p.name, p.length, p.whole]),
      [[segmentName(0), 3 * MiB, false]],
    );
    assert.deepEqual(
      piecesOf(chain, 12 * MiB).map((p) => [p.length, p.whole]),
      [
        [6 * MiB, false],
        [6 * MiB, true],
      ],
    );
    assert.throws(() => piecesOf(chain, 12 * MiB + 1), /holds 12582912 bytes, fewer than 12582913/);
  });

  it('keeps the newest generation of a segment and marks the others superseded', () => {
    const chain = segmentChain('u', [
      ...listed([0, 6 * MiB]),
      { name: segmentName(6 * MiB), size: MiB },
      { name: segmentName(6 * MiB, 2), size: 3 * MiB },
      { name: segmentName(6 * MiB, 1), size: 2 * MiB },
    ]);
    assert.equal(chain.size, 9 * MiB);
    assert.deepEqual(chain.segments.at(-1)?.name, '0000000006291456.2');
    assert.deepEqual(chain.superseded.sort(), ['0000000006291456', '0000000006291456.1']);
  });

  it('merges an append into a last segment under 5 MiB as its next generation, else starts a segment', () => {
    const small = segmentChain('u', listed([0, MiB]));
    assert.deepEqual(planAppend('u', small, MiB), { remove: [], merge: { replaces: segmentName(0), keep: MiB }, target: '0000000000000000.1' });
    const again = segmentChain('u', [{ name: '0000000000000000.1', size: 2 * MiB }]);
    assert.deepEqual(planAppend('u', again, 2 * MiB).target, '0000000000000000.2');
    const full = segmentChain('u', listed([0, MIN_SEGMENT_BYTES]));
    assert.deepEqual(planAppend('u', full, MIN_SEGMENT_BYTES), { remove: [], target: segmentName(MIN_SEGMENT_BYTES) });
    assert.deepEqual(planAppend('u', segmentChain('u', listed()), 0), { remove: [], target: segmentName(0) });
    assert.throws(() => planAppend('u', small, MiB + 1), /holds 1048576 bytes, fewer than offset 1048577/);
  });

  it('drops segments the session never accepted, last first, and superseded ones', () => {
    const chain = segmentChain('u', [...listed([0, 6 * MiB], [6 * MiB, 6 * MiB], [12 * MiB, 1]), { name: segmentName(6 * MiB, 7), size: 6 * MiB }]);
    const plan = planAppend('u', chain, 6 * MiB);
    assert.deepEqual(plan.remove, [segmentName(12 * MiB), segmentName(6 * MiB, 7), segmentName(6 * MiB)]);
    assert.equal(plan.merge, undefined);
    assert.equal(plan.target, segmentName(6 * MiB));
    // inside the first segment: it is rewritten up to the offset
    const inside = planAppend('u', chain, 2 * MiB);
    assert.deepEqual(inside.remove, [segmentName(12 * MiB), segmentName(6 * MiB, 7), segmentName(6 * MiB)]);
    assert.deepEqual(inside.merge, { replaces: segmentName(0), keep: 2 * MiB });
    assert.equal(inside.target, segmentName(0, 1));
  });
});

describe('S3 copy parts', () => {
  it('splits ranges longer than a copy in equal parts', () => {
    const parts = planCopyParts([
      { key: 'a', offset: 0, length: 11 * 1024 * MiB, whole: true },
      { key: 'b', offset: 0, length: 10, whole: true },
    ]);
    assert.deepEqual(
      parts?.map((p) => [p.key, p.offset, p.length]),
      [
        ['a', 0, 3937053355],
        ['a', 3937053355, 3937053355],
        ['a', 7874106710, 3937053354],
        ['b', 0, 10],
      ],
    );
    assert.ok(parts!.every((p) => p.length <= MAX_COPY_BYTES));
  });

  it('gives up when parts would be too small or too many', () => {
    assert.equal(planCopyParts([{ key: 'a', offset: 0, length: MiB, whole: true }, { key: 'b', offset: 0, length: 1, whole: true }]), undefined);
    const many = Array.from({ length: MAX_PARTS + 1 }, (_, i) => ({ key: String(i), offset: 0, length: 5 * MiB, whole: true }));
    assert.equal(planCopyParts(many), undefined);
    assert.equal(planCopyParts(many.slice(1))?.length, MAX_PARTS);
  });
});
