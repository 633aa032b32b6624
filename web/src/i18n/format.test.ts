import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatCompact, formatDate, formatDateTime, formatNumber, formatRelative, percentOf } from './format';

// Intl separates French digit groups with a narrow no-break space and units with a no-break space
const nb = (text: string) => text.replace(/[\u202f\u00a0]/g, ' ');

describe('formatters', () => {
  it('formats numbers per language', () => {
    assert.equal(formatNumber(1234567.5, 'en'), '1,234,567.5');
    assert.equal(nb(formatNumber(1234567.5, 'fr')), '1 234 567,5');
    assert.equal(formatCompact(1_250_000, 'en'), '1.3M');
    assert.equal(nb(formatCompact(1_250_000, 'fr')), '1,3 M');
  });

  it('formats sizes in decimal units, in the language\'s own unit names', () => {
    assert.equal(formatBytes(0, 'en'), '0 byte');
    assert.equal(formatBytes(999, 'en'), '999 byte');
    assert.equal(formatBytes(1536_000, 'en'), '1.5 MB');
    assert.equal(nb(formatBytes(1536_000, 'fr')), '1,5 Mo');
    assert.equal(formatBytes(2_000_000_000, 'en'), '2 GB');
    assert.equal(nb(formatBytes(2_000_000_000, 'fr')), '2 Go');
    assert.equal(formatBytes(123_456_789, 'en'), '123 MB');
    assert.equal(formatBytes(-1, 'en'), '—');
    assert.equal(formatBytes(Number.NaN, 'en'), '—');
  });

  it('formats dates per language and says nothing for no date', () => {
    const iso = '2026-03-04T14:05:00.000Z';
    assert.equal(formatDate(iso, 'en', 'UTC'), 'Mar 4, 2026');
    assert.equal(formatDate(iso, 'fr', 'UTC'), '4 mars 2026');
    assert.match(formatDateTime(iso, 'en', 'UTC'), /^Mar 4, 2026, 2:05\sPM$/);
    assert.equal(formatDateTime(iso, 'fr', 'UTC'), '4 mars 2026, 14:05');
    assert.equal(formatDate(null, 'en'), '—');
    assert.equal(formatDate('not a date', 'fr'), '—');
  });

  it('says how long ago, per language', () => {
    const now = Date.parse('2026-03-04T14:05:00.000Z');
    assert.equal(formatRelative('2026-03-04T11:05:00.000Z', 'en', now), '3 hours ago');
    assert.equal(formatRelative('2026-03-04T11:05:00.000Z', 'fr', now), 'il y a 3 heures');
    assert.equal(formatRelative('2026-03-03T14:05:00.000Z', 'en', now), 'yesterday');
    assert.equal(formatRelative('2026-03-03T14:05:00.000Z', 'fr', now), 'hier');
    assert.equal(formatRelative('2026-04-03T14:05:00.000Z', 'en', now), 'next month');
    assert.equal(formatRelative('2026-03-04T14:04:58.000Z', 'en', now), '2 seconds ago');
    assert.equal(formatRelative(null, 'en', now), '—');
  });

  it('fills a bar up to its limit', () => {
    assert.equal(percentOf(1, 4), 25);
    assert.equal(percentOf(9, 4), 100);
    assert.equal(percentOf(3, null), 0);
  });
});
