import { sql, type Kysely, type SqlBool } from 'kysely';
import type { Subject } from '../auth/access-policy.js';
import { detailsOf, type ManifestDetailsRecord } from '../metadata/registry-index.js';
import type { Database } from '../metadata/schema.js';
import type { ContentType } from '../oci/content-types.js';
import { parseManifest } from '../oci/manifest.js';
import { isIndexMediaType } from '../oci/media-types.js';
import type { Clock } from '../registry/ports.js';
import { HubError } from './errors.js';
import { likePattern, type Paged, type PageRequest, type RepositoryPages } from './repository-pages.js';

export interface TagImage {
  architecture: string | null;
  os: string | null;
  variant: string | null;
  digest: string;
  size: number;
  lastPushedAt: number | null;
}

export interface TagSummary {
  name: string;
  digest: string;
  mediaType: string;
  contentType: ContentType;
  /** an image: config + layers; an index: the sum of its platforms */
  fullSize: number;
  lastPushedAt: number;
  lastPulledAt: number | null;
  pullCount: number;
  /** who pushed it last; null when unknown (pushed anonymously, or before Pier recorded it) */
  lastUpdater: string | null;
  /** Docker Hub's rule: inactive when neither pushed nor pulled for a month */
  status: 'active' | 'inactive';
  /** one per platform (an image: itself) */
  images: TagImage[];
}

/** A manifest by digest: what it is, its size, its platforms and every tag that names it. */
export interface ManifestSummary {
  digest: string;
  mediaType: string;
  contentType: ContentType;
  /** an image: config + layers; an index: the sum of its platforms */
  fullSize: number;
  pushedAt: number;
  /** the tags naming it, by name (none: reachable by digest only) */
  tags: string[];
  images: TagImage[];
}

export interface ImageLayer {
  /** null for a build step that added no layer */
  digest: string | null;
  size: number;
  mediaType: string | null;
  /** the build step (the config's history), null when unknown (artifacts, configs without history) */
  instruction: string | null;
  emptyLayer: boolean;
}

export interface ImageDetail {
  architecture: string | null;
  os: string | null;
  variant: string | null;
  digest: string;
  size: number;
  configDigest: string | null;
  created: number | null;
  layers: ImageLayer[];
}

export const TAG_ORDERINGS = ['name', '-name', 'last_pushed', '-last_pushed'] as const;
export type TagOrdering = (typeof TAG_ORDERINGS)[number];

const INACTIVE_AFTER_MS = 30 * 86_400_000;

/**
 * A repository's tags as its page shows them: each with its platforms and sizes, who pushed it,
 * its pulls; and a tag's images layer by layer with the build steps of its config. All of it was
 * computed at push (manifest_details) or is in the index: no blob is read here. Tags of a
 * repository the subject may not see are not found, like the repository.
 */
export class TagPages {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly repositories: RepositoryPages,
    private readonly clock: Clock,
  ) {}

  async list(subject: Subject, repository: string, options: PageRequest & { ordering?: TagOrdering; name?: string }): Promise<Paged<TagSummary>> {
    await this.repositories.require(subject, repository);
    const base = this.db
      .selectFrom('tags as t')
      .where('t.repository', '=', repository)
      .$if(options.name !== undefined && options.name !== '', (q) => q.where(sql<SqlBool>`t.name like ${likePattern(options.name!)} escape '\\'`));
    const ordering = options.ordering ?? 'name';
    const [count, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      this.withDetails(base)
        .$call((q) => {
          switch (ordering) {
            case 'name':
              return q.orderBy('t.name');
            case '-name':
              return q.orderBy('t.name', 'desc');
            case 'last_pushed':
              return q.orderBy('t.updated_at').orderBy('t.name');
            case '-last_pushed':
              return q.orderBy('t.updated_at', 'desc').orderBy('t.name');
          }
        })
        .limit(options.pageSize)
        .offset((options.page - 1) * options.pageSize)
        .execute(),
    ]);
    return { count: Number(count.n), results: rows.map((row) => this.summary(row)) };
  }

  async get(subject: Subject, repository: string, tag: string): Promise<TagSummary> {
    await this.repositories.require(subject, repository);
    const row = await this.withDetails(this.db.selectFrom('tags as t').where('t.repository', '=', repository).where('t.name', '=', tag)).executeTakeFirst();
    if (!row) throw new HubError('not_found', `tag "${tag}" not found in ${repository}`);
    return this.summary(row);
  }

  /** A manifest of the repository by digest, with the tags naming it. */
  async manifest(subject: Subject, repository: string, digest: string): Promise<ManifestSummary> {
    await this.repositories.require(subject, repository);
    const row = await this.db
      .selectFrom('manifests as m')
      .leftJoin('manifest_details as d', (join) => join.onRef('d.repository', '=', 'm.repository').onRef('d.digest', '=', 'm.digest'))
      .select(['m.digest', 'm.media_type', 'm.created_at', 'd.content_type', 'd.size', 'd.os', 'd.architecture', 'd.variant', 'd.platforms'])
      .where('m.repository', '=', repository)
      .where('m.digest', '=', digest)
      .executeTakeFirst();
    if (!row) throw new HubError('not_found', `manifest ${digest} not found in ${repository}`);
    const tags = await this.db.selectFrom('tags').select('name').where('repository', '=', repository).where('digest', '=', digest).orderBy('name').execute();
    const pushedAt = Number(row.created_at);
    return {
      digest: row.digest,
      mediaType: row.media_type,
      contentType: contentTypeOf(row),
      fullSize: Number(row.size ?? 0),
      pushedAt,
      tags: tags.map((t) => t.name),
      images: imagesOf({ ...row, pushedAt }),
    };
  }

  /** The images of a tag (one per platform), each with its layers and the build steps that made them. */
  async images(subject: Subject, repository: string, tag: string): Promise<ImageDetail[]> {
    await this.repositories.require(subject, repository);
    const top = await this.manifestsWithDetails(repository, (q) =>
      q.innerJoin('tags as t', (join) => join.onRef('t.repository', '=', 'm.repository').onRef('t.digest', '=', 'm.digest')).where('t.name', '=', tag),
    );
    const manifest = top[0];
    if (!manifest) throw new HubError('not_found', `tag "${tag}" not found in ${repository}`);
    if (!isIndexMediaType(manifest.mediaType)) return [imageDetail(manifest)];
    const platforms = manifest.details?.platforms ?? [];
    const digests = platforms.map((p) => p.digest);
    // in batches: an index may list more children than SQLite binds in one statement
    const children = [];
    for (let i = 0; i < digests.length; i += 500) {
      const batch = digests.slice(i, i + 500);
      children.push(...(await this.manifestsWithDetails(repository, (q) => q.where('m.digest', 'in', batch))));
    }
    const byDigest = new Map(children.map((c) => [c.digest, c]));
    return platforms.flatMap((platform) => {
      const child = byDigest.get(platform.digest);
      if (!child) return [];
      return [{ ...imageDetail(child), architecture: platform.architecture, os: platform.os, variant: platform.variant ?? null }];
    });
  }

  private withDetails<Q extends ReturnType<typeof this.tagsQuery>>(query: Q) {
    return query
      .innerJoin('manifests as m', (join) => join.onRef('m.repository', '=', 't.repository').onRef('m.digest', '=', 't.digest'))
      .leftJoin('manifest_details as d', (join) => join.onRef('d.repository', '=', 't.repository').onRef('d.digest', '=', 't.digest'))
      .leftJoin('tag_pulls as tp', (join) => join.onRef('tp.repository', '=', 't.repository').onRef('tp.tag', '=', 't.name'))
      .select(['t.name', 't.digest', 't.updated_at', 't.pushed_by', 'm.media_type', 'm.created_at as manifest_created_at'])
      .select(['d.content_type', 'd.size', 'd.os', 'd.architecture', 'd.variant', 'd.platforms'])
      .select(['tp.pulls', 'tp.last_pulled_at']);
  }

  private tagsQuery() {
    return this.db.selectFrom('tags as t');
  }

  private summary(row: TagRow): TagSummary {
    const lastPushedAt = Number(row.updated_at);
    const lastPulledAt = row.last_pulled_at == null ? null : Number(row.last_pulled_at);
    const since = this.clock.now() - INACTIVE_AFTER_MS;
    const images = imagesOf({ ...row, pushedAt: Number(row.manifest_created_at) });
    return {
      name: row.name,
      digest: row.digest,
      mediaType: row.media_type,
      contentType: contentTypeOf(row),
      fullSize: Number(row.size ?? 0),
      lastPushedAt,
      lastPulledAt,
      pullCount: Number(row.pulls ?? 0),
      lastUpdater: row.pushed_by,
      status: lastPushedAt >= since || (lastPulledAt !== null && lastPulledAt >= since) ? 'active' : 'inactive',
      images,
    };
  }

  private async manifestsWithDetails(
    repository: string,
    narrow: (query: ReturnType<typeof this.manifestsQuery>) => ReturnType<typeof this.manifestsQuery>,
  ): Promise<Array<{ digest: string; mediaType: string; content: Buffer; details?: ManifestDetailsRecord }>> {
    const rows = await narrow(this.manifestsQuery(repository)).execute();
    return rows.map((row) => ({
      digest: row.digest,
      mediaType: row.media_type,
      content: Buffer.from(row.content),
      ...(row.content_type !== null ? { details: detailsOf({ ...row, repository, content_type: row.content_type, size: Number(row.size) }) } : {}),
    }));
  }

  private manifestsQuery(repository: string) {
    return this.db
      .selectFrom('manifests as m')
      .leftJoin('manifest_details as d', (join) => join.onRef('d.repository', '=', 'm.repository').onRef('d.digest', '=', 'm.digest'))
      .select(['m.digest', 'm.media_type', 'm.content'])
      .select(['d.content_type', 'd.size', 'd.config_digest', 'd.os', 'd.architecture', 'd.variant', 'd.created', 'd.description', 'd.platforms', 'd.history'])
      .where('m.repository', '=', repository);
  }
}

type DetailsRow = Pick<TagRow, 'digest' | 'media_type' | 'content_type' | 'size' | 'os' | 'architecture' | 'variant' | 'platforms'>;

const contentTypeOf = (row: Pick<DetailsRow, 'content_type' | 'media_type'>): ContentType =>
  (row.content_type as ContentType | null) ?? (isIndexMediaType(row.media_type) ? 'index' : 'image');

/** One per platform of an index; an image: itself (pushed when the manifest was). */
function imagesOf(row: DetailsRow & { pushedAt: number }): TagImage[] {
  if (!row.platforms) return [{ architecture: row.architecture, os: row.os, variant: row.variant, digest: row.digest, size: Number(row.size ?? 0), lastPushedAt: row.pushedAt }];
  return (JSON.parse(row.platforms) as NonNullable<ManifestDetailsRecord['platforms']>).map((p) => ({
    architecture: p.architecture,
    os: p.os,
    variant: p.variant ?? null,
    digest: p.digest,
    size: p.size,
    lastPushedAt: p.pushedAt,
  }));
}

type TagRow = {
  name: string;
  digest: string;
  updated_at: number;
  pushed_by: string | null;
  media_type: string;
  manifest_created_at: number;
  content_type: string | null;
  size: number | null;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  platforms: string | null;
  pulls: number | null;
  last_pulled_at: number | null;
};

/**
 * An image manifest layer by layer. Layers follow the config's history: each build step that made
 * a layer takes the next one, a step that made none (ENV, CMD) is an empty layer without digest;
 * layers the history does not account for (artifacts, configs without history) come last,
 * without instruction.
 */
function imageDetail(manifest: { digest: string; mediaType: string; content: Buffer; details?: ManifestDetailsRecord }): ImageDetail {
  const details = manifest.details;
  let parsedLayers: Array<{ digest: string; size: number; mediaType: string }> = [];
  try {
    parsedLayers = parseManifest(manifest.content, manifest.mediaType).layers;
  } catch {
    // stored manifests were valid when pushed; a parser that grew stricter shows no layers rather than failing the page
  }
  const layers: ImageLayer[] = [];
  let next = 0;
  for (const step of details?.history ?? []) {
    if (step.emptyLayer) {
      layers.push({ digest: null, size: 0, mediaType: null, instruction: step.createdBy ?? null, emptyLayer: true });
      continue;
    }
    const layer = parsedLayers[next++];
    if (!layer) break;
    layers.push({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType, instruction: step.createdBy ?? null, emptyLayer: false });
  }
  for (const layer of parsedLayers.slice(next)) {
    layers.push({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType, instruction: null, emptyLayer: false });
  }
  return {
    architecture: details?.platform?.architecture ?? null,
    os: details?.platform?.os ?? null,
    variant: details?.platform?.variant ?? null,
    digest: manifest.digest,
    size: details?.size ?? parsedLayers.reduce((sum, l) => sum + l.size, 0),
    configDigest: details?.configDigest ?? null,
    created: details?.created ?? null,
    layers,
  };
}
