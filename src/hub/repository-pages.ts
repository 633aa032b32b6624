import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Subject } from '../auth/access-policy.js';
import type { Database } from '../metadata/schema.js';
import type { ContentType } from '../oci/content-types.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import type { HubAccessPolicy } from './access-policy.js';
import type { CategoryService } from './categories.js';
import { HubError } from './errors.js';
import type { HubSettings } from './settings.js';
import type { StarService } from './stars.js';
import { publicVisibleTo, visibleTo } from './visibility.js';

/** What a list shows of a repository (Docker Hub's repository object without its README). */
export interface RepositorySummary {
  namespace: string;
  /** the part after the namespace (`team/app` of `alice/team/app`) */
  name: string;
  fullName: string;
  description: string;
  isPrivate: boolean;
  isOfficial: boolean;
  isVerifiedPublisher: boolean;
  starCount: number;
  pullCount: number;
  lastPulledAt: number | null;
  /** the last push, null before the first */
  lastUpdatedAt: number | null;
  createdAt: number;
  /** 'image' when it holds images or indexes, 'artifact' when only other manifests, null when empty */
  repositoryType: 'image' | 'artifact' | null;
  /** bytes of the distinct blobs its manifests refer to */
  storageSize: number;
  mediaTypes: string[];
  contentTypes: ContentType[];
  categories: Array<{ slug: string; name: string }>;
  /** whether the subject starred it (false for anonymous callers) */
  isStarred: boolean;
  permissions: { read: boolean; write: boolean; admin: boolean };
}

export interface RepositoryDetail extends RepositorySummary {
  /** the README: the repository's own, else the description of its latest tag's image */
  fullDescription: string;
  readmeSource: 'full_description' | 'image' | null;
}

export interface Paged<T> {
  count: number;
  results: T[];
}

export interface PageRequest {
  /** 1-based */
  page: number;
  pageSize: number;
}

export const NAMESPACE_ORDERINGS = ['name', '-name', 'last_updated', '-last_updated', 'pull_count', '-pull_count'] as const;
export type NamespaceOrdering = (typeof NAMESPACE_ORDERINGS)[number];

/** Docker Hub's limits: a one-line summary, and a README. */
export const DESCRIPTION_MAX_CHARACTERS = 100;
export const FULL_DESCRIPTION_MAX_BYTES = 25_000;

interface Dependencies {
  settings: HubSettings;
  categories: CategoryService;
  stars: StarService;
  policy: HubAccessPolicy;
}

/**
 * The read side of repository pages: one repository, a namespace's list, an account's stars.
 * Each list is one indexed query that filters what the subject may see, counts and pages inside
 * the database (hub/visibility.ts), then a few batched queries describe the page's rows. A
 * repository the subject may not see is not found, exactly like a missing one.
 */
export class RepositoryPages {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly deps: Dependencies,
  ) {}

  /** The predicate "visible to this subject" over `hub_repositories as h`. */
  async visibility(subject: Subject): Promise<RawBuilder<SqlBool>> {
    const loginRequired = subject.kind === 'anonymous' ? await this.deps.settings.get('pullRequiresLogin') : false;
    const teams = subject.kind === 'account' && !subject.admin && !subject.tokenRepositories ? await this.deps.policy.teamOrganizationsOf(subject.name) : [];
    return visibleTo(subject, publicVisibleTo(subject, loginRequired), teams);
  }

  /** Throws not_found unless the subject may see the repository (the same answer as a missing one). */
  async require(subject: Subject, name: string): Promise<void> {
    const visible = await this.visibility(subject);
    const row = await this.db
      .selectFrom('hub_repositories as h')
      .select('h.name')
      .where('h.name', '=', name)
      .where(visible)
      .executeTakeFirst();
    if (!row) throw new HubError('not_found', `repository "${name}" not found`);
  }

  async get(subject: Subject, name: string): Promise<RepositoryDetail> {
    await this.require(subject, name);
    const [summary] = await this.summaries(subject, [name]);
    if (!summary) throw new HubError('not_found', `repository "${name}" not found`);
    const own = await this.db.selectFrom('repository_readmes').select('content').where('repository', '=', name).executeTakeFirst();
    if (own && own.content !== '') return { ...summary, fullDescription: own.content, readmeSource: 'full_description' };
    const image = await this.imageDescription(name);
    return image === undefined ? { ...summary, fullDescription: '', readmeSource: null } : { ...summary, fullDescription: image, readmeSource: 'image' };
  }

  /**
   * The description annotation or label of the latest tag's image: the tag `latest` when it has
   * one, else the most recently pushed tag that has one.
   */
  private async imageDescription(name: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('tags as t')
      .innerJoin('manifest_details as d', (join) => join.onRef('d.repository', '=', 't.repository').onRef('d.digest', '=', 't.digest'))
      .select('d.description')
      .where('t.repository', '=', name)
      .where('d.description', 'is not', null)
      .where('d.description', '!=', '')
      .orderBy(sql`case when t.name = 'latest' then 0 else 1 end`)
      .orderBy('t.updated_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.description ?? undefined;
  }

  /**
   * Describes repositories (in the order given; unknown names are left out) in a few batched
   * queries. Visibility is the caller's business: names come from a query that filtered them.
   */
  async summaries(subject: Subject, names: readonly string[]): Promise<RepositorySummary[]> {
    if (names.length === 0) return [];
    const list = [...names];
    const [rows, sizes, types, categories, starred, permissions] = await Promise.all([
      this.db
        .selectFrom('hub_repositories as h')
        .leftJoin('repositories as r', 'r.name', 'h.name')
        .leftJoin('repository_pulls as p', 'p.repository', 'h.name')
        .leftJoin('accounts as a', 'a.name', 'h.namespace')
        .select(['h.name', 'h.namespace', 'h.private', 'h.created_at', 'h.description', 'h.star_count', 'h.pull_count'])
        .select(['r.last_pushed_at', 'r.kind', 'p.last_pulled_at', 'a.verified_publisher'])
        .where('h.name', 'in', list)
        .execute(),
      this.storageSizes(list),
      this.contentOf(list),
      this.deps.categories.of(list),
      subject.kind === 'account' ? this.deps.stars.starredAmong(subject.name, list) : Promise.resolve(new Set<string>()),
      this.deps.policy.permissionsAmong(subject, list),
    ]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    return list.flatMap((fullName) => {
      const row = byName.get(fullName);
      if (!row) return [];
      const content = types.get(fullName);
      return [
        {
          namespace: row.namespace,
          name: fullName.slice(row.namespace.length + 1),
          fullName,
          description: row.description,
          isPrivate: Number(row.private) === 1,
          isOfficial: row.namespace === OFFICIAL_NAMESPACE,
          isVerifiedPublisher: Number(row.verified_publisher ?? 0) === 1,
          starCount: Number(row.star_count),
          pullCount: Number(row.pull_count),
          lastPulledAt: row.last_pulled_at == null ? null : Number(row.last_pulled_at),
          lastUpdatedAt: row.last_pushed_at == null ? null : Number(row.last_pushed_at),
          createdAt: Number(row.created_at),
          repositoryType: row.kind === 'image' || row.kind === 'artifact' ? row.kind : null,
          storageSize: sizes.get(fullName) ?? 0,
          mediaTypes: content ? [...content.mediaTypes].sort() : [],
          contentTypes: content ? [...content.contentTypes].sort() : [],
          categories: categories.get(fullName) ?? [],
          isStarred: starred.has(fullName),
          permissions: permissions.get(fullName) ?? { read: false, write: false, admin: false },
        },
      ];
    });
  }

  /** A namespace's repositories the subject may see, paged, ordered, filtered by a part of their name. */
  async listNamespace(subject: Subject, namespace: string, options: PageRequest & { ordering?: NamespaceOrdering; name?: string }): Promise<Paged<RepositorySummary>> {
    const visible = await this.visibility(subject);
    const filter = options.name ? options.name.toLowerCase() : undefined;
    // the index (namespace, name, private) gives the rows in name order, and what visibility reads
    const base = this.db
      .selectFrom('hub_repositories as h')
      .where('h.namespace', '=', namespace)
      .where(visible)
      .$if(filter !== undefined, (q) => q.where(sql<SqlBool>`substr(h.name, length(h.namespace) + 2) like ${likePattern(filter!)} escape '\\'`));
    const ordering = options.ordering ?? 'name';
    const [count, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      base
        .leftJoin('repositories as r', 'r.name', 'h.name')
        .select('h.name')
        .$call((q) => {
          switch (ordering) {
            case 'name':
              return q.orderBy('h.name');
            case '-name':
              return q.orderBy('h.name', 'desc');
            case 'last_updated':
              return q.orderBy('r.last_pushed_at', (o) => o.asc().nullsLast()).orderBy('h.name');
            case '-last_updated':
              return q.orderBy('r.last_pushed_at', (o) => o.desc().nullsLast()).orderBy('h.name');
            case 'pull_count':
              return q.orderBy('h.pull_count').orderBy('h.name');
            case '-pull_count':
              return q.orderBy('h.pull_count', 'desc').orderBy('h.name');
          }
        })
        .limit(options.pageSize)
        .offset((options.page - 1) * options.pageSize)
        .execute(),
    ]);
    return { count: Number(count.n), results: await this.summaries(subject, rows.map((r) => r.name)) };
  }

  /** What an account starred, newest star first, as far as the subject may see it. */
  async starred(subject: Subject, account: string, options: PageRequest): Promise<Paged<RepositorySummary>> {
    const visible = await this.visibility(subject);
    const base = this.db
      .selectFrom('stars as s')
      .innerJoin('hub_repositories as h', 'h.name', 's.repository')
      .where('s.account', '=', account)
      .where(visible);
    const [count, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      base
        .select('h.name')
        .orderBy('s.created_at', 'desc')
        .orderBy('h.name')
        .limit(options.pageSize)
        .offset((options.page - 1) * options.pageSize)
        .execute(),
    ]);
    return { count: Number(count.n), results: await this.summaries(subject, rows.map((r) => r.name)) };
  }

  /** Bytes of the distinct blobs each repository's manifests refer to. */
  private async storageSizes(names: string[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for (const batch of chunks(names, 500)) {
      const rows = await this.db
        .selectFrom(
          this.db
            .selectFrom('manifest_references')
            .select(['repository', 'digest'])
            .distinct()
            .where('repository', 'in', batch)
            .where('kind', '=', 'blob')
            .as('x'),
        )
        .innerJoin('blobs as b', 'b.digest', 'x.digest')
        .select(['x.repository', sql<number | string>`sum(b.size)`.as('bytes')])
        .groupBy('x.repository')
        .execute();
      for (const row of rows) sizes.set(row.repository, Number(row.bytes));
    }
    return sizes;
  }

  /** The manifest media types and content types each repository holds. */
  private async contentOf(names: string[]): Promise<Map<string, { mediaTypes: Set<string>; contentTypes: Set<ContentType> }>> {
    const found = new Map<string, { mediaTypes: Set<string>; contentTypes: Set<ContentType> }>();
    for (const batch of chunks(names, 500)) {
      const rows = await this.db
        .selectFrom('manifests as m')
        .leftJoin('manifest_details as d', (join) => join.onRef('d.repository', '=', 'm.repository').onRef('d.digest', '=', 'm.digest'))
        .select(['m.repository', 'm.media_type', 'd.content_type'])
        .distinct()
        .where('m.repository', 'in', batch)
        .execute();
      for (const row of rows) {
        let entry = found.get(row.repository);
        if (!entry) found.set(row.repository, (entry = { mediaTypes: new Set(), contentTypes: new Set() }));
        entry.mediaTypes.add(row.media_type);
        if (row.content_type) entry.contentTypes.add(row.content_type as ContentType);
      }
    }
    return found;
  }
}

/** `%text%` for LIKE, with LIKE's own characters taken literally (escape '\'). */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Checks a short description and a README before they are stored. */
export function checkDescriptions(change: { description?: string; fullDescription?: string }): void {
  const { description, fullDescription } = change;
  if (description !== undefined) {
    if ([...description].length > DESCRIPTION_MAX_CHARACTERS) throw new HubError('invalid', `description: at most ${DESCRIPTION_MAX_CHARACTERS} characters`);
    if (/\p{Cc}/u.test(description)) throw new HubError('invalid', 'description: one line of text, without control characters');
  }
  if (fullDescription !== undefined) {
    if (Buffer.byteLength(fullDescription) > FULL_DESCRIPTION_MAX_BYTES) throw new HubError('invalid', `full_description: at most ${FULL_DESCRIPTION_MAX_BYTES} bytes`);
    if (fullDescription.includes('\u0000')) throw new HubError('invalid', 'full_description: text without NUL characters');
  }
}

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
