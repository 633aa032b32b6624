import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import { HubError } from './errors.js';

export interface Category {
  slug: string;
  name: string;
  description: string;
}

/** Docker Hub's categories: the list an installation starts with, then administrators keep it. */
export const DEFAULT_CATEGORIES: readonly Category[] = [
  { slug: 'api-management', name: 'API Management', description: 'Gateways, proxies and tools that manage APIs' },
  { slug: 'content-management-system', name: 'Content Management System', description: 'Publishing platforms, wikis and blogs' },
  { slug: 'data-science', name: 'Data Science', description: 'Notebooks, analysis and visualisation' },
  { slug: 'databases-and-storage', name: 'Databases & Storage', description: 'Databases, caches and storage systems' },
  { slug: 'developer-tools', name: 'Developer Tools', description: 'Build, test and development tools' },
  { slug: 'integration-and-delivery', name: 'Integration & Delivery', description: 'Continuous integration and delivery' },
  { slug: 'internet-of-things', name: 'Internet of Things', description: 'Devices, edge and embedded systems' },
  { slug: 'languages-and-frameworks', name: 'Languages & Frameworks', description: 'Runtimes, compilers and frameworks' },
  { slug: 'machine-learning-and-ai', name: 'Machine Learning & AI', description: 'Models, training and inference' },
  { slug: 'message-queues', name: 'Message Queues', description: 'Brokers, queues and event streaming' },
  { slug: 'monitoring-and-observability', name: 'Monitoring & Observability', description: 'Metrics, logs and traces' },
  { slug: 'networking', name: 'Networking', description: 'Proxies, load balancers, DNS and VPNs' },
  { slug: 'operating-systems', name: 'Operating Systems', description: 'Base images and distributions' },
  { slug: 'security', name: 'Security', description: 'Scanning, secrets and identity' },
  { slug: 'web-analytics', name: 'Web Analytics', description: 'Analytics and tracking of web sites' },
  { slug: 'web-servers', name: 'Web Servers', description: 'HTTP servers and reverse proxies' },
];

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** Docker Hub lets a repository have up to three categories. */
export const MAX_CATEGORIES_PER_REPOSITORY = 3;

/**
 * Categories: a list administrators keep (written with Docker Hub's when the table is empty, as
 * plans are), and which repositories are in which. A repository's categories are also written,
 * as words, on its `hub_repositories` row: that is what the full-text index reads.
 */
export class CategoryService {
  private seeded: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async list(): Promise<Category[]> {
    await this.ensureDefaults();
    return this.db.selectFrom('categories').select(['slug', 'name', 'description']).orderBy('slug').execute();
  }

  async create(category: { slug: string; name: string; description?: string }): Promise<Category> {
    await this.ensureDefaults();
    const { slug, name } = category;
    const description = category.description ?? '';
    if (slug.length < 2 || slug.length > 50 || !SLUG.test(slug)) throw new HubError('invalid', 'a category slug has 2 to 50 lowercase letters and digits, words separated by single hyphens');
    if (name.trim() === '' || name.length > 50) throw new HubError('invalid', 'a category name has 1 to 50 characters');
    if (description.length > 200) throw new HubError('invalid', 'a category description has at most 200 characters');
    const result = await this.db
      .insertInto('categories')
      .values({ slug, name: name.trim(), description, created_at: this.clock.now() })
      .onConflict((oc) => oc.column('slug').doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) throw new HubError('conflict', `the category "${slug}" exists`);
    return { slug, name: name.trim(), description };
  }

  /** Removes a category from the list and from every repository that had it. */
  async remove(slug: string): Promise<void> {
    await this.ensureDefaults();
    await this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('categories').where('slug', '=', slug).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new HubError('not_found', `no category "${slug}"`);
      const affected = await trx.selectFrom('repository_categories').select('repository').where('category', '=', slug).execute();
      await trx.deleteFrom('repository_categories').where('category', '=', slug).execute();
      for (const { repository } of affected) await writeWords(trx, repository);
    });
  }

  /** Replaces a repository's categories (slugs of the list, at most three). */
  async set(repository: string, slugs: readonly string[]): Promise<Category[]> {
    await this.ensureDefaults();
    const wanted = [...new Set(slugs)];
    if (wanted.length > MAX_CATEGORIES_PER_REPOSITORY) throw new HubError('invalid', `a repository has at most ${MAX_CATEGORIES_PER_REPOSITORY} categories`);
    return this.db.transaction().execute(async (trx) => {
      const known = wanted.length === 0 ? [] : await trx.selectFrom('categories').select(['slug', 'name', 'description']).where('slug', 'in', wanted).execute();
      const unknown = wanted.filter((slug) => !known.some((c) => c.slug === slug));
      if (unknown.length > 0) throw new HubError('invalid', `unknown categor${unknown.length === 1 ? 'y' : 'ies'}: ${unknown.join(', ')} (GET /api/v1/categories lists them)`);
      await trx.deleteFrom('repository_categories').where('repository', '=', repository).execute();
      if (wanted.length > 0) await trx.insertInto('repository_categories').values(wanted.map((category) => ({ repository, category }))).execute();
      await writeWords(trx, repository);
      return known.sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
    });
  }

  /** The categories of some repositories, in one query per 500 names. */
  async of(repositories: readonly string[]): Promise<Map<string, Array<{ slug: string; name: string }>>> {
    const found = new Map<string, Array<{ slug: string; name: string }>>();
    for (let i = 0; i < repositories.length; i += 500) {
      const rows = await this.db
        .selectFrom('repository_categories as rc')
        .innerJoin('categories as c', 'c.slug', 'rc.category')
        .select(['rc.repository', 'c.slug', 'c.name'])
        .where('rc.repository', 'in', repositories.slice(i, i + 500))
        .orderBy('c.slug')
        .execute();
      for (const row of rows) {
        let list = found.get(row.repository);
        if (!list) found.set(row.repository, (list = []));
        list.push({ slug: row.slug, name: row.name });
      }
    }
    return found;
  }

  /** Writes the default list when the table is empty; replicas starting together write it once. */
  ensureDefaults(): Promise<void> {
    this.seeded ??= (async () => {
      const any = await this.db.selectFrom('categories').select('slug').limit(1).executeTakeFirst();
      if (any) return;
      await this.db
        .insertInto('categories')
        .values(DEFAULT_CATEGORIES.map((c) => ({ ...c, created_at: this.clock.now() })))
        .onConflict((oc) => oc.column('slug').doNothing())
        .execute();
    })().catch((error: unknown) => {
      this.seeded = undefined;
      throw error;
    });
    return this.seeded;
  }
}

/** The words of a repository's categories (slugs and names) on its row, for the full-text index. */
async function writeWords(trx: Transaction<Database>, repository: string): Promise<void> {
  const rows = await trx
    .selectFrom('repository_categories as rc')
    .innerJoin('categories as c', 'c.slug', 'rc.category')
    .select(['c.slug', 'c.name'])
    .where('rc.repository', '=', repository)
    .orderBy('c.slug')
    .execute();
  await trx
    .updateTable('hub_repositories')
    .set({ categories: rows.map((r) => `${r.slug} ${r.name}`).join(' ') })
    .where('name', '=', repository)
    .execute();
}
