import { matcher, patternProblem } from '../tag-immutability.js';

/** The rules of a retention policy: a tag stays when any rule that is set keeps it. */
export interface RetentionRules {
  /** keep the N most recently pushed tags */
  keepLast: number | null;
  /** keep tags pulled (or pushed) within D days */
  keepPulledDays: number | null;
  /** keep tags matching a glob or a /regular expression/ (the syntax of immutable tag rules) */
  keepPattern: string | null;
}

export const MAX_KEEP_LAST = 10_000;
export const MAX_KEEP_PULLED_DAYS = 3650;
const DAY_MS = 24 * 3600_000;

/** What is wrong with a policy (none set, out of range, a bad pattern), or undefined. */
export function rulesProblem(rules: RetentionRules): string | undefined {
  if (rules.keepLast === null && rules.keepPulledDays === null && rules.keepPattern === null) {
    return 'a retention policy needs at least one rule: keep_last, keep_pulled_days or keep_pattern';
  }
  if (rules.keepLast !== null && (!Number.isInteger(rules.keepLast) || rules.keepLast < 1 || rules.keepLast > MAX_KEEP_LAST)) {
    return `keep_last is a whole number from 1 to ${MAX_KEEP_LAST}`;
  }
  if (rules.keepPulledDays !== null && (!Number.isInteger(rules.keepPulledDays) || rules.keepPulledDays < 1 || rules.keepPulledDays > MAX_KEEP_PULLED_DAYS)) {
    return `keep_pulled_days is a whole number of days from 1 to ${MAX_KEEP_PULLED_DAYS}`;
  }
  if (rules.keepPattern !== null) {
    const problem = patternProblem(rules.keepPattern);
    if (problem) return `keep_pattern: ${problem}`;
  }
  return undefined;
}

/** A tag as a run sees it. */
export interface TagFacts {
  tag: string;
  digest: string;
  /** when it was pushed (moved) last */
  pushedAt: number;
  /** null: never pulled by this tag */
  lastPulledAt: number | null;
}

export type KeepRule = 'immutable' | 'keep_last' | 'keep_pulled_days' | 'keep_pattern';

export interface KeptTag {
  tag: string;
  digest: string;
  /** the first rule that keeps it (immutable first) */
  rule: KeepRule | 'changed';
  reason: string;
}

export interface DeletedTag {
  tag: string;
  digest: string;
  /** why no rule keeps it */
  reason: string;
}

export interface Selection {
  kept: KeptTag[];
  deleted: DeletedTag[];
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Which tags a policy keeps and which go, with the reason of each. A tag goes when no rule keeps
 * it; a tag matching an immutable tag rule always stays. Tags are ranked by push date, newest
 * first (ties by name); "pulled within D days" counts the latest of its last pull and its push
 * (a tag never pulled counts as pulled when it was pushed). Both lists are in rank order.
 */
export function selectTags(tags: readonly TagFacts[], rules: RetentionRules, immutablePatterns: readonly string[], now: number): Selection {
  const ranked = [...tags].sort((a, b) => b.pushedAt - a.pushedAt || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const immutable = immutablePatterns.map((pattern) => ({ pattern, matches: matcher(pattern) }));
  const keepPattern = rules.keepPattern === null ? undefined : matcher(rules.keepPattern);
  const cutoff = rules.keepPulledDays === null ? undefined : now - rules.keepPulledDays * DAY_MS;
  const selection: Selection = { kept: [], deleted: [] };
  ranked.forEach((t, index) => {
    const rank = index + 1;
    const used = Math.max(t.lastPulledAt ?? t.pushedAt, t.pushedAt);
    const usedWhat = t.lastPulledAt !== null && t.lastPulledAt >= t.pushedAt ? `pulled ${day(t.lastPulledAt)}` : `pushed ${day(t.pushedAt)}${t.lastPulledAt === null ? ', never pulled' : ', not pulled since'}`;
    const keep = (rule: KeepRule, reason: string) => selection.kept.push({ tag: t.tag, digest: t.digest, rule, reason });
    const rule = immutable.find((r) => r.matches(t.tag));
    if (rule) return keep('immutable', `immutable (rule "${rule.pattern}"): retention never deletes it`);
    if (rules.keepLast !== null && rank <= rules.keepLast) return keep('keep_last', `among the ${rules.keepLast} most recently pushed (#${rank}, pushed ${day(t.pushedAt)})`);
    if (cutoff !== undefined && used >= cutoff) return keep('keep_pulled_days', `${usedWhat}: within ${rules.keepPulledDays} days`);
    if (keepPattern?.(t.tag)) return keep('keep_pattern', `matches "${rules.keepPattern}"`);
    const why: string[] = [];
    if (rules.keepLast !== null) why.push(`not among the ${rules.keepLast} most recently pushed (#${rank})`);
    if (cutoff !== undefined) why.push(`${usedWhat}: more than ${rules.keepPulledDays} days ago`);
    if (rules.keepPattern !== null) why.push(`does not match "${rules.keepPattern}"`);
    selection.deleted.push({ tag: t.tag, digest: t.digest, reason: why.join('; ') });
  });
  return selection;
}
