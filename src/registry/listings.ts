import { parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaType } from '../oci/media-types.js';
import type { RepositoryName } from '../oci/names.js';
import type { Page, RegistryIndex } from '../metadata/registry-index.js';
import type { ProxyCache } from './proxy/proxy-cache.js';

export type { Page };

/** Of a batch of repository names, the ones the caller may see. */
export type CatalogFilter = (names: string[]) => Promise<Set<string>>;

const CATALOG_BATCH = 1000;
const FILTERED_BATCH = 100;

export interface Listing {
  items: string[];
  /** the `last` of the next page, when there is one */
  next?: string;
}

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }>;
}

/** Tags, catalog and referrers: index queries, in byte order, paginated with `n` and `last`. */
export class ListingService {
  constructor(
    private readonly index: RegistryIndex,
    /** a proxied repository lists the upstream's tags */
    private readonly proxy?: ProxyCache,
  ) {}

  async tags(repository: RepositoryName, page: Page): Promise<Listing> {
    const proxied = await this.proxy?.tags(repository, page);
    if (proxied) return proxied;
    const listing = await paginate(page, (p) => this.index.listTags(repository, p));
    // a page with tags needs no second query to know that the repository exists
    if (listing.items.length === 0 && !(await this.index.repositoryExists(repository))) {
      throw new OciError('NAME_UNKNOWN', `repository ${repository} is not known to this registry`, { detail: { name: repository } });
    }
    return listing;
  }

  /**
   * Repository names in byte order. `visible` (the caller's view: private repositories of others
   * are left out) is asked per batch, and batches continue until the page is full, so `n` and
   * the next page's `last` still hold.
   */
  async catalog(page: Page, visible?: CatalogFilter): Promise<Listing> {
    if (page.n === 0) return { items: [] };
    const items: string[] = [];
    let last = page.last;
    for (;;) {
      // one more than the page needs tells whether a next page exists; filtered batches read ahead
      const need = page.n === undefined ? CATALOG_BATCH : page.n - items.length + 1;
      const want = visible ? Math.max(need, FILTERED_BATCH) : need;
      const batch = await this.index.listRepositories({ n: want, last });
      if (batch.length === 0) break;
      const shown = visible ? await visible(batch) : undefined;
      for (const name of batch) {
        if (!shown || shown.has(name)) items.push(name);
      }
      if (batch.length < want || (page.n !== undefined && items.length > page.n)) break;
      last = batch[batch.length - 1];
    }
    if (page.n !== undefined && items.length > page.n) {
      items.length = page.n;
      return { items, next: items[items.length - 1] };
    }
    return { items };
  }

  /** Every referrer of a subject (page after page). */
  async referrers(repository: RepositoryName, digestParam: string, artifactType?: string): Promise<ReferrersIndex> {
    const all: ReferrersIndex['manifests'] = [];
    let last: string | undefined;
    for (;;) {
      const { index, next } = await this.referrersPage(repository, digestParam, artifactType, { n: 1000, last });
      all.push(...index.manifests);
      if (next === undefined) break;
      last = next;
    }
    return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: all };
  }

  /**
   * One page of a subject's referrers, by digest: a subject may have thousands (a signature per
   * build), so the API pages them like tags (`n`, `last`, and a Link to the next page).
   */
  async referrersPage(repository: RepositoryName, digestParam: string, artifactType: string | undefined, page: Page): Promise<{ index: ReferrersIndex; next?: string }> {
    const subject: Digest = parseDigest(digestParam);
    const { items: rows, next } = await paginateRecords(page, (p) => this.index.listReferrers(repository, subject, artifactType, p), (r) => r.digest);
    const index: ReferrersIndex = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: rows.map((r) => ({
        mediaType: r.mediaType,
        digest: r.digest,
        size: r.size,
        ...(r.artifactType ? { artifactType: r.artifactType } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
      })),
    };
    return next === undefined ? { index } : { index, next };
  }
}

/** `paginate` for records: the next page's `last` is the key of the page's last record. */
async function paginateRecords<T>(page: Page, query: (page: Page) => Promise<T[]>, key: (item: T) => string): Promise<{ items: T[]; next?: string }> {
  if (page.n === 0) return { items: [] };
  const items = await query({ last: page.last, n: page.n === undefined ? undefined : page.n + 1 });
  if (page.n !== undefined && items.length > page.n) {
    items.length = page.n;
    return { items, next: key(items[items.length - 1]!) };
  }
  return { items };
}

/** Asks for one more than `n` to know whether a next page exists. */
async function paginate(page: Page, query: (page: Page) => Promise<readonly string[]>): Promise<Listing> {
  if (page.n === 0) return { items: [] };
  const found = await query({ last: page.last, n: page.n === undefined ? undefined : page.n + 1 });
  if (page.n !== undefined && found.length > page.n) {
    const items = found.slice(0, page.n);
    return { items, next: items[items.length - 1] };
  }
  return { items: [...found] };
}
