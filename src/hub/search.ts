import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Subject } from '../auth/access-policy.js';
import type { DialectName } from '../metadata/dialect.js';
import { fullTextMatch, searchTerms } from '../metadata/full-text.js';
import type { Database } from '../metadata/schema.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
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

/** Rows of a page ordered tier after tier (see SearchService.throughTiers). */
interface Tier {
  join?: RawBuilder<unknown>;
  condition: RawBuilder<SqlBool>;
  order: RawBuilder<unknown>;
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
 * verified publishers, then relevance (where the words were found: the name before the
 * namespace and categories, before the description; metadata/full-text.ts), then pulls, then
 * stars. Without words, "best" is official, verified, then the most pulled.
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
    const where = sql<SqlBool>`${sql.join(conditions, sql` and `)}`;
    const from = match ? match.from : sql`hub_repositories as h`;

    const offset = (request.page - 1) * request.pageSize;
    const limit = sql`limit ${request.pageSize} offset ${offset}`;
    const official = sql`(case when h.namespace = ${OFFICIAL_NAMESPACE} then 1 else 0 end)`;
    // one list for the whole query (an uncorrelated IN), not a lookup per row
    const verified = sql`(case when h.namespace in (select v.name from accounts v where v.verified_publisher = 1) then 1 else 0 end)`;
    const counted = () => sql<{ n: number | string }>`select count(*) as n from ${from} where ${where}`.execute(this.db).then((r) => Number(r.rows[0]?.n ?? 0));

    let found: { count: number; names: string[] };
    if (match && ordering === 'best') {
      // every match is ranked anyway: where it is cheaper, the count comes with the page (a window)
      const exact = sql`(case when h.name = ${text} or substr(h.name, length(h.namespace) + 2) = ${text} then 1 else 0 end)`;
      // the sort keys are computed in a subquery, so the window and the sort carry narrow rows
      const page = (total: RawBuilder<unknown>) => sql<{ name: string; total: number | string | null }>`
        select k.name, ${total} as total from (
          select h.name, ${exact} as exact, ${official} as official, ${verified} as verified, ${match.relevance} as relevance, h.pull_count, h.star_count
          from ${from} where ${where} ${match.fence}
        ) as k
        order by k.exact desc, k.official desc, k.verified desc, k.relevance desc, k.pull_count desc, k.star_count desc, k.name ${limit}`.execute(this.db);
      if (match.countInPage) {
        const { rows } = await page(sql`count(*) over ()`);
        found = { count: rows.length > 0 ? Number(rows[0]!.total) : offset > 0 ? await counted() : 0, names: rows.map((r) => r.name) };
      } else {
        const [count, { rows }] = await Promise.all([counted(), page(sql`null`)]);
        found = { count, names: rows.map((r) => r.name) };
      }
    } else {
      // an ordered index scan per tier, as far as the page needs: sorting every visible
      // repository by its badges, or by a column of another table, would read them all
      let tiers: Tier[];
      if (ordering === 'best') {
        const rest = sql<SqlBool>`h.namespace <> ${OFFICIAL_NAMESPACE}`;
        const byPulls = sql`h.pull_count desc, h.name desc`;
        tiers = [
          { condition: sql<SqlBool>`h.namespace = ${OFFICIAL_NAMESPACE}`, order: byPulls },
          { condition: sql<SqlBool>`${rest} and ${verified} = 1`, order: byPulls },
          { condition: sql<SqlBool>`${rest} and ${verified} = 0`, order: byPulls },
        ];
      } else if (ordering === '-last_updated') {
        tiers = [
          { join: sql`join repositories r on r.name = h.name`, condition: sql<SqlBool>`r.last_pushed_at is not null`, order: sql`r.last_pushed_at desc, h.name` },
          // never pushed (created before a first push): last
          { condition: sql<SqlBool>`not exists (select 1 from repositories r where r.name = h.name and r.last_pushed_at is not null)`, order: sql`h.name` },
        ];
      } else {
        tiers = [{ condition: sql<SqlBool>`1 = 1`, order: ordering === '-pull_count' ? sql`h.pull_count desc, h.name desc` : sql`h.star_count desc, h.name desc` }];
      }
      const [count, names] = await Promise.all([counted(), this.throughTiers(from, where, tiers, offset, request.pageSize)]);
      found = { count, names };
    }
    return { count: found.count, results: await this.pages.summaries(subject, found.names) };
  }

  /**
   * A page of rows that are ordered tier after tier: each tier's query is read from where the
   * page starts in it; a tier the page starts after is only counted.
   */
  private async throughTiers(from: RawBuilder<unknown>, where: RawBuilder<SqlBool>, tiers: Tier[], offset: number, pageSize: number): Promise<string[]> {
    const names: string[] = [];
    let skip = offset;
    for (const tier of tiers) {
      const join = tier.join ?? sql``;
      const { rows } = await sql<{ name: string }>`select h.name from ${from} ${join} where ${where} and ${tier.condition} order by ${tier.order} limit ${pageSize - names.length} offset ${skip}`.execute(this.db);
      names.push(...rows.map((r) => r.name));
      if (names.length === pageSize) break;
      if (rows.length > 0) skip = 0;
      else {
        const { rows: counted } = await sql<{ n: number | string }>`select count(*) as n from ${from} ${join} where ${where} and ${tier.condition}`.execute(this.db);
        skip = Math.max(0, skip - Number(counted[0]?.n ?? 0));
      }
    }
    return names;
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
    // the two ranges as a union, each an index range scan that filters what the subject may see
    // (a join back to the table, or an OR beside ORDER BY ... LIMIT, tempts a planner into
    // reading every repository instead)
    const range = (column: RawBuilder<unknown>) =>
      sql`select h.name, h.namespace, h.pull_count from hub_repositories as h where ${column} >= ${prefix} and ${column} < ${upper} and ${visible}`;
    const { rows } = await sql<{ name: string; namespace: string; verified_publisher: number | null }>`
      select c.name, c.namespace, a.verified_publisher from (${range(short)} union ${range(sql`h.name`)}) as c
      left join accounts a on a.name = c.namespace
      order by (case when c.name = ${prefix} or substr(c.name, length(c.namespace) + 2) = ${prefix} then 1 else 0 end) desc,
               (case when c.namespace = ${OFFICIAL_NAMESPACE} then 1 else 0 end) desc, c.pull_count desc, c.name
      limit ${MAX_SUGGESTIONS}`.execute(this.db);
    return rows.map((r) => ({
      namespace: r.namespace,
      name: r.name.slice(r.namespace.length + 1),
      isOfficial: r.namespace === OFFICIAL_NAMESPACE,
      isVerifiedPublisher: Number(r.verified_publisher ?? 0) === 1,
    }));
  }
}
