import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { ColumnTypes, DialectName } from './dialect.js';

/**
 * Full-text search over repositories, with each database's own engine: an FTS5 table on SQLite,
 * a tsvector column with a GIN index on PostgreSQL. Both index the same four fields of
 * `hub_repositories`, cut into words the same way (letters and digits; everything else
 * separates), without stemming or stop words, so that a query finds the same repositories on
 * either database:
 *   the repository's own name (`web-app` of `alice/web-app`), its namespace, its categories
 *   (slugs and names, kept in `hub_repositories.categories`) and its short description.
 * Each query word matches as a prefix (`ngi` finds `nginx`: search as you type), all words must
 * match. Relevance: where the words are (the name, then namespace and categories, then description).
 *
 * The index follows its rows by itself (SQLite: triggers; PostgreSQL: a generated column), so
 * every write path, `pier migrate-storage` included, keeps it current.
 */

/** The FTS5 table (SQLite), keyed by `hub_repositories`' rowid. */
const FTS_TABLE = 'repository_search';

/** Tables the copier must not copy: the FTS5 table and its shadow tables are derived from `hub_repositories`. */
export function isDerivedSearchTable(table: string): boolean {
  return table === FTS_TABLE || table.startsWith(`${FTS_TABLE}_`);
}

/**
 * The repository's own name: what follows its namespace. The same expression on both databases,
 * also indexed (suggestions are a range scan on it).
 */
export function shortNameSql(alias?: string): RawBuilder<string> {
  const name = alias ? sql.ref(`${alias}.name`) : sql.ref('name');
  const namespace = alias ? sql.ref(`${alias}.namespace`) : sql.ref('namespace');
  return sql<string>`substr(${name}, length(${namespace}) + 2)`;
}

/** Creates the index (migration 006). */
export async function createRepositorySearch(db: Kysely<any>, types: ColumnTypes): Promise<void> {
  if (types.dialect === 'postgres') {
    // punctuation becomes space before PostgreSQL's parser sees the text, so that `web-app`,
    // `v1.2` or a URL split into words as FTS5's unicode61 tokenizer splits them
    const words = (expression: string) => `regexp_replace(${expression}, '[[:punct:][:space:]]+', ' ', 'g')`;
    const vector = [
      `setweight(to_tsvector('simple', ${words('substr(name, length(namespace) + 2)')}), 'A')`,
      `setweight(to_tsvector('simple', ${words('namespace')}), 'B')`,
      `setweight(to_tsvector('simple', ${words('categories')}), 'C')`,
      `setweight(to_tsvector('simple', ${words('description')}), 'D')`,
    ].join(' || ');
    await sql.raw(`alter table hub_repositories add column search_vector tsvector generated always as (${vector}) stored`).execute(db);
    await sql.raw('create index hub_repositories_search on hub_repositories using gin (search_vector)').execute(db);
    return;
  }
  // contentless: the text stays in hub_repositories; rows are found by rowid, which triggers keep in step
  await sql
    .raw(
      `create virtual table ${FTS_TABLE} using fts5(short_name, namespace, categories, description, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0', prefix='2 3')`,
    )
    .execute(db);
  const insert = (row: 'new') =>
    `insert into ${FTS_TABLE}(rowid, short_name, namespace, categories, description) values (${row}.rowid, substr(${row}.name, length(${row}.namespace) + 2), ${row}.namespace, ${row}.categories, ${row}.description);`;
  await sql.raw(`create trigger hub_repositories_search_insert after insert on hub_repositories begin ${insert('new')} end`).execute(db);
  await sql.raw(`create trigger hub_repositories_search_delete after delete on hub_repositories begin delete from ${FTS_TABLE} where rowid = old.rowid; end`).execute(db);
  await sql
    .raw(
      `create trigger hub_repositories_search_update after update of name, namespace, categories, description on hub_repositories begin delete from ${FTS_TABLE} where rowid = old.rowid; ${insert('new')} end`,
    )
    .execute(db);
  // rows that exist already (every repository pushed before this migration)
  await sql
    .raw(`insert into ${FTS_TABLE}(rowid, short_name, namespace, categories, description) select rowid, substr(name, length(namespace) + 2), namespace, categories, description from hub_repositories`)
    .execute(db);
}

/** At most this many words of a query are searched for; the rest is ignored. */
const MAX_TERMS = 8;
const MAX_TERM_LENGTH = 64;

/**
 * The words of a query, as the index cut the text: runs of letters and digits, lower-cased.
 * `alice/web-app` is alice, web, app. An empty list finds nothing to match (the caller decides
 * whether that means everything).
 */
export function searchTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.map((w) => w.slice(0, MAX_TERM_LENGTH)))].slice(0, MAX_TERMS);
}

export interface FullTextMatch {
  /** FROM clause: `hub_repositories as h`, joined to the matches on SQLite */
  from: RawBuilder<unknown>;
  /** the match itself, on PostgreSQL (SQLite's join filters already) */
  where: RawBuilder<SqlBool>;
  /**
   * Where the words were found, higher first: all of them in the repository's own name (4), some
   * of them there (2, for several words), in the namespace or a category (1); a match in the
   * description alone is 0. Both engines answer it from the index's per-field word lists (FTS5
   * column filters, tsquery weights) instead of a BM25 or ts_rank per match, which costs more
   * than everything else of a search once a common word matches thousands of repositories.
   */
  relevance: RawBuilder<number>;
  /**
   * Ends a subquery that computes the sort keys of the matches: PostgreSQL would otherwise pull
   * it up and carry each match's whole row (its tsvector included) through the window and sort.
   */
  fence: RawBuilder<unknown>;
  /**
   * Whether the count of a ranked search is cheaper in its page's query (a window over the
   * matches: PostgreSQL) than in a second query (SQLite, whose window materialises every match).
   */
  countInPage: boolean;
}

/**
 * The repositories (`h`) that match every term as a prefix, with their relevance. Terms come from
 * searchTerms (letters and digits only), and are bound as parameters all the same.
 */
export function fullTextMatch(dialect: DialectName, terms: readonly string[]): FullTextMatch {
  const several = terms.length > 1;
  if (dialect === 'postgres') {
    const query = (weight: string, join: string) => sql`to_tsquery('simple', ${terms.map((t) => `${t}:*${weight}`).join(join)})`;
    const hit = (weight: string, join: string, points: number) => sql`(case when h.search_vector @@ ${query(weight, join)} then ${sql.lit(points)} else 0 end)`;
    return {
      from: sql`hub_repositories as h`,
      where: sql<SqlBool>`h.search_vector @@ ${query('', ' & ')}`,
      // weights: A the name, B the namespace, C the categories, D the description
      relevance: sql<number>`(${hit('A', ' & ', 4)}${several ? sql` + ${hit('A', ' | ', 2)}` : sql``} + ${hit('BC', ' | ', 1)})`,
      fence: sql`offset 0`,
      countInPage: true,
    };
  }
  const all = terms.map((t) => `"${t}"*`).join(' ');
  const any = terms.map((t) => `"${t}"*`).join(' OR ');
  const table = sql.raw(FTS_TABLE);
  // each an uncorrelated list of rowids, read once per query from the index
  const hit = (expression: string, points: number) =>
    sql`(case when h.rowid in (select rowid from ${table} where ${table} match ${expression}) then ${sql.lit(points)} else 0 end)`;
  return {
    from: sql`hub_repositories as h join (select rowid as search_rowid from ${table} where ${table} match ${all}) as s on s.search_rowid = h.rowid`,
    where: sql<SqlBool>`1 = 1`,
    relevance: sql<number>`(${hit(`{short_name} : (${all})`, 4)}${several ? sql` + ${hit(`{short_name} : (${any})`, 2)}` : sql``} + ${hit(`{namespace categories} : (${any})`, 1)})`,
    fence: sql``,
    countInPage: false,
  };
}
