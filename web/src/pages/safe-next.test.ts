import assert from 'node:assert/strict';
import { it } from 'node:test';
import { safeNext } from './safe-next';

it('follows next= only within this site', () => {
  assert.equal(safeNext('/settings/tokens?x=1'), '/settings/tokens?x=1');
  for (const hostile of ['//evil.example/x', '/\\evil.example', 'https://evil.example', 'javascript:alert(1)', '', null]) {
    assert.equal(safeNext(hostile), '/', String(hostile));
  }
});
