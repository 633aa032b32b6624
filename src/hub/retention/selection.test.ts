import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rulesProblem, selectTags, type RetentionRules, type TagFacts } from './selection.js';

const DAY = 24 * 3600_000;
const NOW = Date.parse('2030-06-01T00:00:00Z');
const rules = (r: Partial<RetentionRules>): RetentionRules => ({ keepLast: null, keepPulledDays: null, keepPattern: null, ...r });
const tag = (name: string, pushedDaysAgo: number, pulledDaysAgo?: number): TagFacts => ({
  tag: name,
  digest: `sha256:${name}`,
  pushedAt: NOW - pushedDaysAgo * DAY,
  lastPulledAt: pulledDaysAgo === undefined ? null : NOW - pulledDaysAgo * DAY,
});
const names = (list: { tag: string }[]) => list.map((t) => t.tag);

describe('retention selection', () => {
  const tags = [tag('a', 40), tag('b', 30, 1), tag('c', 20), tag('d', 10), tag('v1.0', 50), tag('latest', 0)];

  it('keep_last keeps the N most recently pushed (ties by name), the rest go, newest first', () => {
    const s = selectTags(tags, rules({ keepLast: 2 }), [], NOW);
    assert.deepEqual(names(s.kept), ['latest', 'd']);
    assert.deepEqual(names(s.deleted), ['c', 'b', 'a', 'v1.0']);
    assert.match(s.kept[1]!.reason, /among the 2 most recently pushed \(#2/);
    assert.match(s.deleted[0]!.reason, /^not among the 2 most recently pushed \(#3\)$/);
    const tied = selectTags([tag('y', 1), tag('x', 1), tag('z', 1)], rules({ keepLast: 1 }), [], NOW);
    assert.deepEqual(names(tied.kept), ['x']);
  });

  it('keep_pulled_days counts the last pull, or the push of a tag never pulled (or pushed again since)', () => {
    const s = selectTags(tags, rules({ keepPulledDays: 15 }), [], NOW);
    assert.deepEqual(names(s.kept), ['latest', 'd', 'b']);
    assert.deepEqual(names(s.deleted), ['c', 'a', 'v1.0']);
    assert.match(s.kept.find((t) => t.tag === 'b')!.reason, /^pulled 2030-05-31: within 15 days$/);
    assert.match(s.kept.find((t) => t.tag === 'd')!.reason, /pushed 2030-05-22, never pulled: within 15 days/);
    assert.match(s.deleted[0]!.reason, /pushed 2030-05-12, never pulled: more than 15 days ago/);
    // pulled long ago, then pushed again recently: the push counts
    const moved = selectTags([tag('m', 2, 100)], rules({ keepPulledDays: 15 }), [], NOW);
    assert.equal(moved.kept[0]?.rule, 'keep_pulled_days');
  });

  it('keep_pattern takes a glob or a /regular expression/, as immutable rules do', () => {
    assert.deepEqual(names(selectTags(tags, rules({ keepPattern: 'v*' }), [], NOW).kept), ['v1.0']);
    assert.deepEqual(names(selectTags(tags, rules({ keepPattern: '/^[ab]$/' }), [], NOW).kept), ['b', 'a']);
  });

  it('a tag stays when any rule keeps it; an immutable tag always stays, first (and counts among the last N)', () => {
    const s = selectTags(tags, rules({ keepLast: 1, keepPulledDays: 5, keepPattern: 'v*' }), ['/^a$/', 'lat*'], NOW);
    assert.deepEqual(
      s.kept.map((t) => [t.tag, t.rule]),
      [
        ['latest', 'immutable'],
        ['b', 'keep_pulled_days'],
        ['a', 'immutable'],
        ['v1.0', 'keep_pattern'],
      ],
    );
    assert.deepEqual(names(s.deleted), ['d', 'c']);
    assert.equal(s.deleted[1]!.reason, 'not among the 1 most recently pushed (#3); pushed 2030-05-12, never pulled: more than 5 days ago; does not match "v*"');
    assert.match(s.kept[0]!.reason, /immutable \(rule "lat\*"\)/);
  });

  it('a policy needs a rule, in range, with a valid pattern', () => {
    assert.match(rulesProblem(rules({}))!, /at least one rule/);
    assert.match(rulesProblem(rules({ keepLast: 0 }))!, /keep_last/);
    assert.match(rulesProblem(rules({ keepPulledDays: 1.5 }))!, /keep_pulled_days/);
    assert.match(rulesProblem(rules({ keepPattern: '/(/' }))!, /keep_pattern: invalid regular expression/);
    assert.equal(rulesProblem(rules({ keepLast: 3, keepPattern: 'v*' })), undefined);
  });
});
