import { parseDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { MediaType } from '../oci/media-types.js';
import type { RepositoryName } from '../oci/names.js';
import type { Page, RegistryIndex } from '../metadata/registry-index.js';

export type { Page };

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
  constructor(private readonly index: RegistryIndex) {}

  async tags(repository: RepositoryName, page: Page): Promise<Listing> {
    if (!(await this.index.repositoryExists(repository))) {
      throw new OciError('NAME_UNKNOWN', `repository ${repository} is not known to this registry`, { detail: { name: repository } });
    }
    return paginate(page, (p) => this.index.listTags(repository, p));
  }

  async catalog(page: Page, visible: (name: string) => boolean = () => true): Promise<Listing> {
    // The filter (private repositories, later) is applied per page so that `n` still holds.
    if (page.n === 0) return { items: [] };
    const items: string[] = [];
    let last = page.last;
    for (;;) {
      const want = page.n === undefined ? 1000 : page.n - items.length + 1;
      const batch = await this.index.listRepositories({ n: want, last });
      for (const name of batch) {
        if (visible(name)) items.push(name);
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

  async referrers(repository: RepositoryName, digestParam: string, artifactType?: string): Promise<ReferrersIndex> {
    const subject: Digest = parseDigest(digestParam);
    const rows = await this.index.listReferrers(repository, subject, artifactType);
    return {
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
  }
}

/** Asks for one more than `n` to know whether a next page exists. */
async function paginate(page: Page, query: (page: Page) => Promise<string[]>): Promise<Listing> {
  if (page.n === 0) return { items: [] };
  const items = await query({ last: page.last, n: page.n === undefined ? undefined : page.n + 1 });
  if (page.n !== undefined && items.length > page.n) {
    items.length = page.n;
    return { items, next: items[items.length - 1] };
  }
  return { items };
}
