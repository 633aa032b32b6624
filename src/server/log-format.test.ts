import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prettyLine } from './log-format.js';

describe('readable log lines', () => {
  it('shows the time, the level, the message, the fields and the request id', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 31, 12, 4, 7), pid: 1, hostname: 'h', reqId: 'abc', msg: 'webhook added', webhook: 'w1', scope: { kind: 'repository' } });
    assert.equal(prettyLine(line, false), '12:04:07 INFO  webhook added webhook=w1 scope={"kind":"repository"} [abc]');
  });

  it('puts an error’s stack under its line, and leaves what is not JSON as it is', () => {
    const line = JSON.stringify({ level: 50, time: 0, msg: 'failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } });
    assert.equal(prettyLine(line, false), '00:00:00 ERROR failed\nError: boom\n    at x');
    assert.equal(prettyLine('not json', false), 'not json');
  });
});
