import { sql, type Kysely } from 'kysely';
import type { Subject } from '../auth/access-policy.js';
import type { Database } from '../metadata/schema.js';
import { namespaceOf, OFFICIAL_NAMESPACE } from '../oci/names.js';
import { HubError } from './errors.js';

/** One hit, in the shape `docker search` reads (registry v1 search API), plus Pier's verified badge. */
export interface SearchResult {
  /** `namespace/repo`; an official image (`library/x`) shows as `x`, as on Docker Hub */
  name: string;
  /** repositories have no description yet: always '' */
  description: string;
  /** stars do not exist yet: always 0 */
  star_count: number;
  is_official: boolean;
  /** automated builds do not exist: always false */
  is_automated: boolean;
  is_verified_publisher: boolean;
}

export interface SearchPage {
  query: string;
  num_results: number;
  num_pages: number;
  page: number;
  page_size: number;
  results: SearchResult[];
}

export interface SearchRequest {
  query: string;
  /** results per page; default 25, at most 100 */
  pageSize?: number;
  /** 1-based */
  page?: number;
}

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
/** A query longer than any repository name cannot match. */
const MAX_QUERY_LENGTH = 255;
/** names per `in (...)` list: well under every database's parameter limit */
const CHUNK = 500;

interface Ports {
  /** which of these repositories the subject may pull (public ones, and private ones it may read) */
  readableAmong(subject: Subject, names: string[]): Promise<Set<string>>;
  /** which of these namespaces are verified publishers */
  verifiedAmong(names: string[]): Promise<Set<string>>;
}

/**
 * Repository search: the query as a case-insensitive substring of `namespace/repo`, over the
 * repositories the hub knows and the ones in the registry index (a repository pushed in open mode
 * has no hub row and is public). Only what the subject may pull is found, so a private
 * repository's existence never leaks. Exact matches first, then official images, then by name.
 */
export class SearchService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly ports: Ports,
  ) {}

  async search(subject: Subject, request: SearchRequest): Promise<SearchPage> {
    const query = request.query.trim();
    const pageSize = request.pageSize ?? DEFAULT_PAGE_SIZE;
    const page = request.page ?? 1;
    if (query === '') throw new HubError('invalid', 'the search query (q) is empty');
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new HubError('invalid', 'n (page size) must be a positive integer');
    if (!Number.isInteger(page) || page < 1) throw new HubError('invalid', 'page must be a positive integer');
    const size = Math.min(pageSize, MAX_PAGE_SIZE);

    const needle = query.toLowerCase();
    const names = query.length > MAX_QUERY_LENGTH ? [] : await this.matching(needle);
    const readable = new Set<string>();
    for (let i = 0; i < names.length; i += CHUNK) {
      for (const name of await this.ports.readableAmong(subject, names.slice(i, i + CHUNK))) readable.add(name);
    }
    const visible = names.filter((name) => readable.has(name)).sort((a, b) => compare(rank(a, needle), rank(b, needle)) || compare(a, b));

    const slice = visible.slice((page - 1) * size, page * size);
    const verified = await this.ports.verifiedAmong([...new Set(slice.map(namespaceOf))]);
    return {
      query: request.query,
      num_results: visible.length,
      num_pages: Math.ceil(visible.length / size),
      page,
      page_size: size,
      results: slice.map((name) => {
        const namespace = namespaceOf(name);
        const official = namespace === OFFICIAL_NAMESPACE && name.includes('/');
        return {
          name: official ? name.slice(OFFICIAL_NAMESPACE.length + 1) : name,
          description: '',
          star_count: 0,
          is_official: official,
          is_automated: false,
          is_verified_publisher: verified.has(namespace),
        };
      }),
    };
  }

  /** Names containing `needle` (lowercase), from the hub's rows and the registry index. */
  private async matching(needle: string): Promise<string[]> {
    const pattern = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const [hub, index] = await Promise.all([
      this.db
        .selectFrom('hub_repositories')
        .select('name')
        .where(sql<boolean>`lower(name) like ${pattern} escape '\\'`)
        .execute(),
      this.db
        .selectFrom('repositories')
        .select('name')
        .where(sql<boolean>`lower(name) like ${pattern} escape '\\'`)
        .execute(),
    ]);
    return [...new Set([...hub, ...index].map((r) => r.name))];
  }
}

/** 0: the whole name is the query (`nginx` for library/nginx too); 1: an official image; 2: the rest. */
function rank(name: string, needle: string): number {
  const display = name.startsWith(`${OFFICIAL_NAMESPACE}/`) ? name.slice(OFFICIAL_NAMESPACE.length + 1) : name;
  if (display === needle || name === needle) return 0;
  return name.startsWith(`${OFFICIAL_NAMESPACE}/`) ? 1 : 2;
}

/** Byte order, as everywhere in Pier (never locale order). */
function compare(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
