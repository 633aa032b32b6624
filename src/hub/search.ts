import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Subject } from '../auth/access-policy.js';
import type { DialectName } from '../metadata/dialect.js';
import { fullTextMatch, searchTerms } from '../metadata/full-text.js';
import type { Database } from '../metadata/schema.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import { HubError } from './errors.js';
import type { Paged, PageRequest, RepositoryPages, RepositorySummary } from './repository-pages.js';

export const SEARCH_ORDERINGS = ['best', '-pull_count', '-star_count', '-last_updated'] as const;
export type SearchOrdering = (typeof SEARCH_ORDERINGS)[number];

export interface SearchRequest extends PageRequest {
  /** words to find; empty lists everything visible (Explore) */
  query: string;
  official?: boolean;
  verifiedPublisher?: boolean;
  /** a category's slug */
  category?: string;
  /** images (and indexes of them) or other artifacts */
  type?: 'image' | 'artifact';
  ordering?: SearchOrdering;
}

export interface Suggestion {
  namespace: string;
  name: string;
  isOfficial: boolean;
  isVerifiedPublisher: boolean;
}

export const MAX_SUGGESTIONS = 10;
/** A query longer than this is cut: no repository name or description needs more to be found. */
const MAX_QUERY_LENGTH = 255;
/** The largest code point: `prefix || MAX_CHAR` bounds every name that starts with `prefix`, in byte order. */
const MAX_CHAR = '\u{10ffff}';
const NAME_CHARACTERS = /^[a-z0-9._/-]+$/;

/**
 * Repository search in the database's full-text index (metadata/full-text.ts), and suggestions
 * as a user types. Filters, visibility (hub/visibility.ts), ranking, counting and paging all
 * happen in one query, so a page is never short because of what the caller may not see, and a
 * private repository is never found by whom may not see it.
 *
 * Ranking ("best"): the repository whose name is the query first, then official images, then
 * verified publishers, then relevance (a word in the name weighs more than in the description)
 * raised by popularity: relevance * (1 + ln(1 + pulls)/10 + ln(1 + stars)/5), so that a
 * repository with a million pulls outranks one as relevant with none, but not one whose name
 * matches when its description alone does. Without words, "best" is official, verified, pulls,
 * stars.
 */
export class SearchService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
    private readonly pages: RepositoryPages,
  ) {}

  async search(subject: Subject, request: SearchRequest): Promise<Paged<RepositorySummary>> {
    const text = request.query.trim().toLowerCase().slice(0, MAX_QUERY_LENGTH);
    const terms = searchTerms(text);
    // words were asked for, and none is a word (`%`, `_`): nothing matches
    if (text !== '' && terms.length === 0) return { count: 0, results: [] };
    const visible = await this.pages.visibility(subject);
    const match = terms.length > 0 ? fullTextMatch(this.dialect, terms) : undefined;
    const ordering = request.ordering ?? 'best';
    const conditions: RawBuilder<SqlBool>[] = [visible];
    if (match) conditions.push(match.where);
    if (request.official) conditions.push(sql<SqlBool>`h.namespace = ${OFFICIAL_NAMESPACE}`);
    if (request.verifiedPublisher) conditions.push(sql<SqlBool>`h.namespace in (select v.name from accounts v where v.verified_publisher = 1)`);
    if (request.category !== undefined) conditions.push(sql<SqlBool>`h.name in (select rc.repository from repository_categories rc where rc.category = ${request.category})`);
    if (request.type !== undefined) conditions.push(sql<SqlBool>`h.name in (select k.name from repositories k where k.kind = ${request.type})`);
    const where = sql.join(conditions, sql` and `);
    const from = match ? match.from : sql`hub_repositories as h`;

    const official = sql`(case when h.namespace = ${OFFICIAL_NAMESPACE} then 1 else 0 end)`;
    // joined only for what orders: a count needs neither
    const verified = sql`coalesce((select a.verified_publisher from accounts a where a.name = h.namespace), 0)`;
    let order: RawBuilder<unknown>;
    let join = sql``;
    switch (ordering) {
      case '-pull_count':
        order = sql`h.pull_count desc, h.name desc`;
        break;
      case '-star_count':
        order = sql`h.star_count desc, h.name desc`;
        break;
      case '-last_updated':
        join = sql`left join repositories r on r.name = h.name`;
        order = sql`r.last_pushed_at desc nulls last, h.name`;
        break;
      case 'best':
        if (match) {
          const exact = sql`(case when h.name = ${text} or substr(h.name, length(h.namespace) + 2) = ${text} then 1 else 0 end)`;
          const popularity = sql`(1 + ln(1 + h.pull_count) / 10 + ln(1 + h.star_count) / 5)`;
          order = sql`${exact} desc, ${official} desc, ${verified} desc, ${match.relevance} * ${popularity} desc, h.name`;
        } else {
          order = sql`${official} desc, ${verified} desc, h.pull_count desc, h.star_count desc, h.name`;
        }
        break;
    }
    const offset = (request.page - 1) * request.pageSize;
    const [count, rows] = await Promise.all([
      sql<{ n: number | string }>`select count(*) as n from ${from} where ${where}`.execute(this.db),
      sql<{ name: string }>`select h.name from ${from} ${join} where ${where} order by ${order} limit ${request.pageSize} offset ${offset}`.execute(this.db),
    ]);
    return { count: Number(count.rows[0]?.n ?? 0), results: await this.pages.summaries(subject, rows.rows.map((r) => r.name)) };
  }

  /**
   * Names that start with what was typed: a repository's own name (`ngi` finds `library/nginx`
   * and `bob/nginx-proxy`) or its full name (`alice/we` finds `alice/web`). Two range scans of
   * indexes; the exact name first, then official images, then the most pulled.
   */
  async suggest(subject: Subject, typed: string): Promise<Suggestion[]> {
    const prefix = typed.trim().toLowerCase();
    if (prefix === '' || prefix.length > MAX_QUERY_LENGTH || !NAME_CHARACTERS.test(prefix)) return [];
    const visible = await this.pages.visibility(subject);
    const short = sql`substr(h.name, length(h.namespace) + 2)`;
    const upper = `${prefix}${MAX_CHAR}`;
    // the two ranges as a union, so that each is an index range scan (an OR beside ORDER BY ... LIMIT
    // tempts a planner into walking the pull-count index instead)
    const { rows } = await sql<{ name: string; namespace: string; verified_publisher: number | null }>`
      select h.name, h.namespace, a.verified_publisher from hub_repositories as h left join accounts a on a.name = h.namespace
      where h.name in (select x.name from hub_repositories x where substr(x.name, length(x.namespace) + 2) >= ${prefix} and substr(x.name, length(x.namespace) + 2) < ${upper}
                       union select y.name from hub_repositories y where y.name >= ${prefix} and y.name < ${upper})
        and ${visible}
      order by (case when h.name = ${prefix} or ${short} = ${prefix} then 1 else 0 end) desc,
               (case when h.namespace = ${OFFICIAL_NAMESPACE} then 1 else 0 end) desc, h.pull_count desc, h.name
      limit ${MAX_SUGGESTIONS}`.execute(this.db);
    return rows.map((r) => ({
      namespace: r.namespace,
      name: r.name.slice(r.namespace.length + 1),
      isOfficial: r.namespace === OFFICIAL_NAMESPACE,
      isVerifiedPublisher: Number(r.verified_publisher ?? 0) === 1,
    }));
  }
}

/** Checks paging from a request: 1-based pages, at most `max` results per page. */
export function checkPage(page: number, pageSize: number, max = 100): PageRequest {
  if (!Number.isInteger(page) || page < 1) throw new HubError('invalid', 'page must be a positive integer');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > max) throw new HubError('invalid', `page_size must be an integer from 1 to ${max}`);
  return { page, pageSize };
}
