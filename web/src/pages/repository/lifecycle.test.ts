import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureGap } from './plan-gap';
import { policyBody } from './retention';

describe('the Lifecycle section\'s logic', () => {
  const plans = [
    { title: 'Free', features: [] },
    { title: 'Team', features: ['tag-immutability', 'retention-policies'] },
  ];

  it('says a plan lacks a feature that another plan has, naming whose plan and which one has it', () => {
    const usage = { plan: { title: 'Free', features: [] }, billed_to: 'alice' };
    assert.deepEqual(featureGap(usage, plans, 'tag-immutability'), { plan: 'Free', payer: 'alice', better: 'Team' });
    assert.equal(featureGap({ ...usage, plan: plans[1]! }, plans, 'tag-immutability'), undefined);
    // a feature no plan lists is not one the server checks (a server without retention policies yet)
    assert.equal(featureGap(usage, plans, 'webhooks'), undefined);
  });

  it('sends only the rules filled in, numbers as numbers, the pattern trimmed', () => {
    assert.deepEqual(policyBody({ keep_last: '3', keep_pulled_days: '', keep_pattern: '  v*  ' }), { keep_last: 3, keep_pattern: 'v*' });
    assert.deepEqual(policyBody({ keep_last: ' ', keep_pulled_days: '30', keep_pattern: '' }), { keep_pulled_days: 30 });
    // nothing filled in: an empty policy, which the API refuses with its reason
    assert.deepEqual(policyBody({ keep_last: '', keep_pulled_days: '', keep_pattern: '' }), {});
  });
});
