import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barChart, niceMax } from './chart';

describe('pulls chart', () => {
  it('tops the scale at a round number', () => {
    assert.deepEqual([0, 1, 3, 7, 10, 11, 180, 2001].map(niceMax), [1, 1, 5, 10, 10, 20, 200, 5000]);
  });

  it('draws one bar a day, as high as its share of the scale, inside the plot', () => {
    const { bars, max, ticks } = barChart([0, 5, 10], 300, 100);
    assert.equal(max, 10);
    assert.deepEqual(ticks, [0, 5, 10]);
    assert.equal(bars.length, 3);
    assert.deepEqual(bars.map((b) => b.height), [0, 50, 100]);
    assert.deepEqual(bars.map((b) => b.y), [100, 50, 0]);
    for (const bar of bars) assert.ok(bar.x >= 0 && bar.x + bar.width <= 300);
  });
});
