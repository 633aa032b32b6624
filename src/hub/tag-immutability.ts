import type { Kysely } from 'kysely';
import type { TagGuard } from '../metadata/registry-index.js';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import { namespaceOf } from '../oci/names.js';
import { HubError } from './errors.js';
import type { PlanService } from './plans.js';

export interface ImmutableTagRule {
  repository: string;
  pattern: string;
  createdAt: number;
  createdBy: string | null;
}

const MAX_RULES = 50;
const MAX_PATTERN = 200;

/**
 * Immutable tags: per repository, tag patterns whose tags a push may create, or push again with
 * the same manifest, but never move to another manifest; nor may anyone delete them (a tag, or
 * the manifest it names). The plan feature 'tag-immutability' is checked where the rules are
 * set and where they apply: a namespace whose plan lost it keeps its rules, unenforced.
 * Deleting the whole repository stays possible (its owner's decision, with its own permission).
 */
export class TagImmutability {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly plans: PlanService,
    private readonly clock: Clock,
  ) {}

  async list(repository: string): Promise<ImmutableTagRule[]> {
    const rows = await this.db.selectFrom('immutable_tag_rules').selectAll().where('repository', '=', repository).orderBy('pattern').execute();
    return rows.map((r) => ({ repository: r.repository, pattern: r.pattern, createdAt: Number(r.created_at), createdBy: r.created_by }));
  }

  /** Adds a rule (adding it again changes nothing); refused without the plan feature. */
  async add(repository: string, pattern: string, by: string | null): Promise<ImmutableTagRule> {
    const problem = patternProblem(pattern);
    if (problem) throw new HubError('invalid', problem);
    await this.plans.requireFeature(namespaceOf(repository), 'tag-immutability', 'an immutable tag rule');
    const existing = (await this.list(repository)).find((r) => r.pattern === pattern);
    if (existing) return existing;
    const count = (await this.list(repository)).length;
    if (count >= MAX_RULES) throw new HubError('invalid', `a repository has at most ${MAX_RULES} immutable tag rules`);
    const rule = { repository, pattern, created_at: this.clock.now(), created_by: by };
    await this.db.insertInto('immutable_tag_rules').values(rule).onConflict((oc) => oc.columns(['repository', 'pattern']).doNothing()).execute();
    return { repository, pattern, createdAt: rule.created_at, createdBy: by };
  }

  /** Removes a rule; false when there was none. */
  async remove(repository: string, pattern: string): Promise<boolean> {
    const result = await this.db.deleteFrom('immutable_tag_rules').where('repository', '=', repository).where('pattern', '=', pattern).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * The guard the index applies inside the transaction that changes the repository's tags
   * (RegistryIndex.putManifest, deleteTag, deleteManifest): for a tag that a rule protects, the
   * refusal naming the tag and the rule. Undefined when no rule applies (none, or the plan lacks
   * the feature). Rules are read here, before that transaction: a rule added while a push is
   * in flight applies from the next one.
   */
  async guard(repository: string): Promise<TagGuard | undefined> {
    const rules = await this.list(repository);
    if (rules.length === 0) return undefined;
    if (!(await this.plans.hasFeature(namespaceOf(repository), 'tag-immutability'))) return undefined;
    const matchers = rules.map((r) => ({ pattern: r.pattern, matches: matcher(r.pattern) }));
    return (tag, change) => {
      const rule = matchers.find((r) => r.matches(tag));
      if (!rule) return undefined;
      const what = change === 'deleted' ? 'deleted' : 'moved to another manifest';
      return `tag "${tag}" of ${repository} is immutable (rule "${rule.pattern}") and cannot be ${what}; push a new tag instead`;
    };
  }
}

/** What is wrong with a pattern, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN) return `a pattern has 1 to ${MAX_PATTERN} characters`;
  if (isRegex(pattern)) {
    try {
      new RegExp(pattern.slice(1, -1), 'u');
    } catch (error) {
      return `invalid regular expression ${pattern}: ${(error as Error).message}`;
    }
    return undefined;
  }
  if (!/^[A-Za-z0-9_.*?-]+$/.test(pattern)) return `a glob pattern has the characters of a tag, "*" and "?" (a regular expression goes between slashes: /^v\\d+$/)`;
  return undefined;
}

const isRegex = (pattern: string) => pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/');

/** A glob matches the whole tag (`*` any run of characters, `?` one); a regular expression, where it finds a match. */
export function matcher(pattern: string): (tag: string) => boolean {
  if (isRegex(pattern)) {
    const regex = new RegExp(pattern.slice(1, -1), 'u');
    return (tag) => regex.test(tag);
  }
  const source = pattern.replace(/[.-]/g, (c) => `\\${c}`).replace(/\*/g, '.*').replace(/\?/g, '.');
  const regex = new RegExp(`^${source}$`);
  return (tag) => regex.test(tag);
}
