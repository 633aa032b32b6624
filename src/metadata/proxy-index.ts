import type { Kysely } from 'kysely';
import { insertManifest, type ManifestReference } from './registry-index.js';
import type { Database } from './schema.js';

export interface CachedManifest {
  repository: string;
  /** the proxy namespace the repository is in */
  namespace: string;
  digest: string;
  mediaType: string;
  content: Buffer;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  references: ManifestReference[];
  /** the tag it was fetched by, which now points at it */
  tag?: string;
  now: number;
}

/**
 * What the pull-through cache keeps beside the registry's index: manifests stored as the upstream
 * served them (their blobs are fetched when a client asks: a cached manifest may name blobs not
 * stored yet), when each cached tag was last checked against the upstream, and when each cached
 * repository was last read.
 */
export class ProxyIndex {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Stores a manifest fetched from the upstream, in one transaction: the repository, the manifest
   * and what it refers to, and the tag with the time it was checked. Unlike a push, nothing it
   * names has to be here already, no quota counts it and no 'manifest.pushed' event is written:
   * nobody pushed it.
   */
  async cacheManifest(m: CachedManifest): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('repositories')
        .values({ name: m.repository, created_at: m.now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      await trx
        .insertInto('proxy_repositories')
        .values({ repository: m.repository, namespace: m.namespace, created_at: m.now, last_access_at: m.now })
        .onConflict((oc) => oc.column('repository').doUpdateSet({ last_access_at: m.now }))
        .execute();
      await insertManifest(trx, m);
      if (m.tag !== undefined) {
        await trx
          .insertInto('tags')
          .values({ repository: m.repository, name: m.tag, digest: m.digest, updated_at: m.now })
          .onConflict((oc) => oc.columns(['repository', 'name']).doUpdateSet({ digest: m.digest, updated_at: m.now }))
          .execute();
        await trx
          .insertInto('proxy_tags')
          .values({ repository: m.repository, tag: m.tag, digest: m.digest, checked_at: m.now })
          .onConflict((oc) => oc.columns(['repository', 'tag']).doUpdateSet({ digest: m.digest, checked_at: m.now }))
          .execute();
      }
    });
  }

  /** When the upstream was last asked about a cached tag, and where it pointed then. */
  async tagCheck(repository: string, tag: string): Promise<{ digest: string; checkedAt: number } | undefined> {
    const row = await this.db.selectFrom('proxy_tags').select(['digest', 'checked_at']).where('repository', '=', repository).where('tag', '=', tag).executeTakeFirst();
    return row && { digest: row.digest, checkedAt: Number(row.checked_at) };
  }

  /** The upstream confirmed the tag (a HEAD answered the digest the cache holds). */
  async recordCheck(repository: string, tag: string, digest: string, now: number): Promise<void> {
    await this.db
      .insertInto('proxy_tags')
      .values({ repository, tag, digest, checked_at: now })
      .onConflict((oc) => oc.columns(['repository', 'tag']).doUpdateSet({ digest, checked_at: now }))
      .execute();
  }

  /** Points a cached tag at a manifest the cache holds already (the upstream moved it back). */
  async retag(repository: string, tag: string, digest: string, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('tags')
        .values({ repository, name: tag, digest, updated_at: now })
        .onConflict((oc) => oc.columns(['repository', 'name']).doUpdateSet({ digest, updated_at: now }))
        .execute();
      await trx
        .insertInto('proxy_tags')
        .values({ repository, tag, digest, checked_at: now })
        .onConflict((oc) => oc.columns(['repository', 'tag']).doUpdateSet({ digest, checked_at: now }))
        .execute();
    });
  }

  /** The upstream no longer has the tag: the copy forgets it too (manifests stay for pulls by digest). */
  async forgetTag(repository: string, tag: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('tags').where('repository', '=', repository).where('name', '=', tag).execute();
      await trx.deleteFrom('proxy_tags').where('repository', '=', repository).where('tag', '=', tag).execute();
    });
  }

  /** Whether a manifest of the repository names the blob (only those are fetched from the upstream). */
  async referencesBlob(repository: string, digest: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('manifest_references')
      .select('digest')
      .where('repository', '=', repository)
      .where('digest', '=', digest)
      .where('kind', '=', 'blob')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A client read the cached repository (written at most once per `interval` by the caller). */
  async touch(repository: string, now: number): Promise<void> {
    await this.db.updateTable('proxy_repositories').set({ last_access_at: now }).where('repository', '=', repository).execute();
  }

  /** Cached repositories of a proxy namespace. */
  async repositoriesOf(namespace: string): Promise<string[]> {
    const rows = await this.db.selectFrom('proxy_repositories').select('repository').where('namespace', '=', namespace).orderBy('repository').execute();
    return rows.map((r) => r.repository);
  }

  /**
   * Cached repositories nobody read since `before`, oldest first: what the garbage collector drops
   * after the idle time (with RegistryIndex.deleteRepository, then `forget`), before it sweeps.
   */
  async idleSince(before: number, limit: number): Promise<Array<{ repository: string; lastAccessAt: number }>> {
    const rows = await this.db
      .selectFrom('proxy_repositories')
      .select(['repository', 'last_access_at'])
      .where('last_access_at', '<', before)
      .orderBy('last_access_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ repository: r.repository, lastAccessAt: Number(r.last_access_at) }));
  }

  /** Drops the cache's own rows of a repository (its manifests, tags and links go with RegistryIndex.deleteRepository). */
  async forget(repository: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('proxy_tags').where('repository', '=', repository).execute();
      await trx.deleteFrom('proxy_repositories').where('repository', '=', repository).execute();
    });
  }
}
