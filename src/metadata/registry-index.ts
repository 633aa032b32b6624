import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { MediaType } from '../oci/media-types.js';
import { namespaceRange } from '../oci/names.js';
import { dialectOf } from './dialect.js';
import { appendOutbox } from './outbox.js';
import { ReadCache } from './read-cache.js';
import type { Database, ManifestDetailsTable, UploadsTable } from './schema.js';

export interface Page {
  n?: number;
  last?: string;
}

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
  content: Buffer;
}

export interface ManifestReference {
  digest: string;
  kind: 'blob' | 'manifest';
  /** the size its descriptor gives, checked against what is stored (clients trust it when they pull) */
  size?: number;
}

/** A descriptor whose size is not the size of what it names. */
export interface SizeMismatch {
  reference: ManifestReference;
  /** the size of the stored blob or manifest */
  stored: number;
}

/** An index's platform, as stored with it. */
export interface PlatformRecord {
  digest: string;
  os: string;
  architecture: string;
  variant?: string;
  /** the platform's image: config + layers */
  size: number;
  /** when that image was pushed (epoch ms), null when unknown */
  pushedAt: number | null;
}

/** What a hub shows of a manifest, computed at push (registry/manifest-details.ts). */
export interface ManifestDetailsRecord {
  contentType: 'image' | 'index' | 'helm' | 'artifact';
  size: number;
  configDigest?: string;
  platform?: { os: string; architecture: string; variant?: string };
  created?: number;
  description?: string;
  platforms?: PlatformRecord[];
  history?: Array<{ createdBy?: string; emptyLayer: boolean }>;
}

export interface NewManifest {
  repository: string;
  digest: string;
  mediaType: string;
  content: Buffer;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  references: ManifestReference[];
  tags: string[];
  now: number;
  /** who pushed it (an account name): the tags' last updater, and the outbox event's actor */
  actor?: string;
  /** what a hub shows of it, computed before the transaction */
  details?: ManifestDetailsRecord;
  /** tags it protects are created, or kept on this manifest, never moved (TagProtected) */
  guard?: TagGuard;
}

/** Who deletes, for the outbox event, and which tags may not go (TagProtected). */
export interface Deletion {
  now?: number;
  actor?: string;
  guard?: TagGuard;
  /** why (a retention policy): written into the tag's 'tag.deleted' event */
  reason?: string;
  /** a tag's deletion happens only while it still names this digest, pushed at this time */
  ifUnchanged?: { digest: string; updatedAt: number };
}

export interface ReferrerRecord {
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  annotations: Record<string, string> | undefined;
}

/**
 * Which tags may not change: the refusal (naming the rule) when `tag` may not be moved to another
 * manifest or deleted, else undefined. The hub builds it from a repository's immutable tag rules
 * (hub/tag-immutability.ts); the index asks it inside the transaction that changes the tags.
 */
export type TagGuard = (tag: string, change: 'moved' | 'deleted') => string | undefined;

/** A change refused by a TagGuard: nothing was written. */
export class TagProtected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TagProtected';
  }
}

/** The collector is deleting the blob's bytes (or they are gone): it cannot be linked now; push it again. */
export class BlobBeingDeleted extends Error {
  constructor(readonly digest: string) {
    super(`blob ${digest} is being garbage-collected`);
    this.name = 'BlobBeingDeleted';
  }
}

export type UploadRecord = Omit<UploadsTable, 'locked_until' | 'claim' | 'reserved'>;

type Db = Kysely<Database> | Transaction<Database>;

/** The largest page of tags ReadCache keeps (a client's `n`; whole lists are read each time). */
const CACHED_PAGE = 1000;

/**
 * The registry's index in SQL: repositories, blob links, manifests, tags, referrers and upload
 * sessions. One implementation over Kysely serves SQLite and PostgreSQL.
 */
export class RegistryIndex {
  /** row locks (FOR SHARE) exist on PostgreSQL only; SQLite runs one writing transaction at a time */
  private readonly postgres: boolean;

  /** blob links and pages of tags while the database is unchanged (SQLite; see ReadCache) */
  private readonly reads: ReadCache | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    options: { changes?: () => unknown } = {},
  ) {
    this.postgres = dialectOf(db) === 'postgres';
    this.reads = options.changes ? new ReadCache(options.changes) : undefined;
  }

  // ---- repositories -------------------------------------------------------------------------

  async repositoryExists(name: string): Promise<boolean> {
    const row = await this.db.selectFrom('repositories').select('name').where('name', '=', name).executeTakeFirst();
    return row !== undefined;
  }

  async listRepositories(page: Page): Promise<string[]> {
    let query = this.db.selectFrom('repositories').select('name').orderBy('name');
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    if (page.n !== undefined) query = query.limit(page.n);
    return (await query.execute()).map((r) => r.name);
  }

  /** Repositories under `namespace/`. */
  async repositoriesInNamespace(namespace: string): Promise<string[]> {
    const { from, to } = namespaceRange(namespace);
    const rows = await this.db
      .selectFrom('repositories')
      .select('name')
      .where('name', '>=', from)
      .where('name', '<', to)
      .orderBy('name')
      .execute();
    return rows.map((r) => r.name);
  }

  /**
   * Removes a repository with its tags, manifests, blob links and upload sessions (bytes stay for
   * GC). Its 'repository.deleted' event is the hub's (hub/repositories.ts forget), with its rows.
   */
  async deleteRepository(name: string): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      const uploads = await trx.selectFrom('uploads').select('id').where('repository', '=', name).execute();
      for (const table of ['tags', 'manifest_references', 'manifest_details', 'manifests', 'blob_links', 'uploads'] as const) {
        await trx.deleteFrom(table).where('repository', '=', name).execute();
      }
      await trx.deleteFrom('repositories').where('name', '=', name).execute();
      return uploads.map((u) => u.id);
    });
  }

  private async ensureRepository(db: Db, name: string, now: number): Promise<void> {
    await db
      .insertInto('repositories')
      .values({ name, created_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  // ---- blobs --------------------------------------------------------------------------------

  /** The size of a blob linked into `repository`, with when a client last showed interest in it. */
  getBlobLink(repository: string, digest: string): Promise<{ size: number; lastSeenAt: number } | undefined> {
    const read = () => this.readBlobLink(repository, digest);
    return this.reads ? this.reads.get(`link\n${repository}\n${digest}`, read) : read();
  }

  private async readBlobLink(repository: string, digest: string): Promise<{ size: number; lastSeenAt: number } | undefined> {
    const row = await this.db
      .selectFrom('blob_links')
      .innerJoin('blobs', 'blobs.digest', 'blob_links.digest')
      .select(['blobs.size', 'blob_links.last_seen_at'])
      .where('blob_links.repository', '=', repository)
      .where('blob_links.digest', '=', digest)
      .executeTakeFirst();
    return row && Object.freeze({ size: Number(row.size), lastSeenAt: Number(row.last_seen_at) });
  }

  async touchBlobLink(repository: string, digest: string, now: number): Promise<void> {
    await this.db
      .updateTable('blob_links')
      .set({ last_seen_at: now })
      .where('repository', '=', repository)
      .where('digest', '=', digest)
      .execute();
  }

  /** Some repositories a blob is linked in, with its size (for a mount without `from`). */
  async repositoriesWithBlob(digest: string, limit: number): Promise<Array<{ repository: string; size: number }>> {
    const rows = await this.db
      .selectFrom('blob_links')
      .innerJoin('blobs', 'blobs.digest', 'blob_links.digest')
      .select(['blob_links.repository', 'blobs.size'])
      .where('blob_links.digest', '=', digest)
      .orderBy('blob_links.repository')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ repository: r.repository, size: Number(r.size) }));
  }

  /** Size of a blob stored for any repository. */
  async findBlob(digest: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('blobs').select('size').where('digest', '=', digest).executeTakeFirst();
    return row && Number(row.size);
  }

  /**
   * Links a blob into a repository (creating its row when it is new). `bytesPresent` is asked when
   * no row exists, for bytes stored before the call (an upload's commit, a mount's check): a row
   * exists from the moment a blob is stored until the collector deleted its bytes, so when it is
   * absent the bytes may have gone since. Throws BlobBeingDeleted when the collector is deleting
   * the blob, or its bytes are gone: nothing links it any more (docs/garbage-collection.md).
   */
  async linkBlob(repository: string, digest: string, size: number, now: number, bytesPresent?: () => Promise<boolean>): Promise<void> {
    await this.linkChecked(repository, digest, size, now, bytesPresent);
  }

  /**
   * Links in a transaction, with `then` in it. `bytesPresent` (the store: a file's stat, a request
   * to S3) is asked between transactions, never in one: on SQLite a transaction holds the one
   * connection, and every other request of the process would wait for the store meanwhile. A new
   * blob's row is made first, in a transaction of its own, and its bytes are asked once it exists
   * (a deletion that began without a row, an orphan's, either sees the row and leaves the bytes
   * alone, or has removed them and the check sees it); then the link, which refuses a row marked
   * since, and starts again when the row went meanwhile (its bytes were deleted).
   */
  private async linkChecked(repository: string, digest: string, size: number, now: number, bytesPresent: (() => Promise<boolean>) | undefined, then?: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    if (!bytesPresent) {
      await this.db.transaction().execute(async (trx) => {
        await this.blobRow(trx, digest, size, now);
        await this.link(trx, repository, digest, now);
        await then?.(trx);
      });
      return;
    }
    // a blob stored already (a mount, a layer pushed again) has its row: one transaction
    let known = (await this.findBlob(digest)) !== undefined;
    for (;;) {
      if (!known) {
        const existed = await this.db.transaction().execute((trx) => this.blobRow(trx, digest, size, now));
        if (!existed && !(await bytesPresent())) {
          // the row made for bytes that are gone goes again, unless something links it meanwhile
          await this.db
            .deleteFrom('blobs')
            .where('digest', '=', digest)
            .where('deleting_at', 'is', null)
            .where(({ not, exists, selectFrom }) => not(exists(selectFrom('blob_links').select('blob_links.digest').where('blob_links.digest', '=', digest))))
            .execute();
          throw new BlobBeingDeleted(digest);
        }
      }
      const linked = await this.db.transaction().execute(async (trx) => {
        if (!(await this.link(trx, repository, digest, now))) return false;
        await then?.(trx);
        return true;
      });
      if (linked) return;
      known = false;
    }
  }

  /**
   * The blob's row, made when it is absent; whether it existed. Throws BlobBeingDeleted when it is
   * marked: this one, or one made meanwhile (pier fsck --repair adopting these bytes as an orphan,
   * to delete them).
   */
  private async blobRow(db: Db, digest: string, size: number, now: number): Promise<boolean> {
    // a shared lock on the row (PostgreSQL): the collector cannot mark the blob before this commits,
    // and once it has, the row read here says so
    const row = await this.blobMark(db, digest);
    if (row && row.deleting_at !== null) throw new BlobBeingDeleted(digest);
    if (row) return true;
    await db
      .insertInto('blobs')
      .values({ digest, size, created_at: now, deleting_at: null })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
    const made = await this.blobMark(db, digest);
    if (made?.deleting_at !== null) throw new BlobBeingDeleted(digest);
    return false;
  }

  /** The blob's row as far as deletion goes (its mark), with a shared lock on PostgreSQL: the collector cannot mark it before this transaction ends. */
  private blobMark(db: Db, digest: string): Promise<{ deleting_at: number | null } | undefined> {
    return db.selectFrom('blobs').select('deleting_at').where('digest', '=', digest).$if(this.postgres, (q) => q.forShare()).executeTakeFirst();
  }

  /** Writes the link of a blob whose row exists (locked, PostgreSQL); false, writing nothing, when the row is gone. */
  private async link(db: Db, repository: string, digest: string, now: number): Promise<boolean> {
    const row = await this.blobMark(db, digest);
    if (!row) return false;
    if (row.deleting_at !== null) throw new BlobBeingDeleted(digest);
    await this.ensureRepository(db, repository, now);
    await db
      .insertInto('blob_links')
      .values({ repository, digest, linked_at: now, last_seen_at: now })
      .onConflict((oc) => oc.columns(['repository', 'digest']).doUpdateSet({ last_seen_at: now }))
      .execute();
    return true;
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('blob_links')
      .where('repository', '=', repository)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  // ---- upload sessions ----------------------------------------------------------------------

  /** A new session; `claimed`: held from the start by a request that writes it at once (a one-request upload). */
  async createUpload(upload: UploadRecord, claimed?: { claim: string; until: number; reserved: number }): Promise<void> {
    await this.db
      .insertInto('uploads')
      .values({ ...upload, locked_until: claimed?.until ?? null, claim: claimed?.claim ?? null, reserved: claimed?.reserved ?? 0 })
      .execute();
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    const row = await this.db
      .selectFrom('uploads')
      .select(['id', 'repository', 'size', 'sha256', 'created_at', 'updated_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row && { ...row, size: Number(row.size), created_at: Number(row.created_at), updated_at: Number(row.updated_at) };
  }

  /**
   * Claims a session for one writer, before any byte is written: only when it is still at `size`
   * and nobody else holds it, so two requests (on any replica) never write the same upload at once.
   * `claim` names the holder: renewing, releasing and recording the chunk all require it, so a
   * writer whose claim expired and was taken over can change nothing any more.
   */
  async claimUpload(id: string, size: number, now: number, until: number, claim: string, reserved = 0): Promise<boolean> {
    const result = await this.db
      .updateTable('uploads')
      .set({ locked_until: until, claim, reserved })
      .where('id', '=', id)
      .where('size', '=', size)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Extends a claim its holder still holds. */
  async renewUploadClaim(id: string, claim: string, until: number): Promise<boolean> {
    const result = await this.db.updateTable('uploads').set({ locked_until: until }).where('id', '=', id).where('claim', '=', claim).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** What the body its holder is writing may still add, counted against the quota (UploadsTable.reserved). */
  async reserveUpload(id: string, claim: string, reserved: number): Promise<void> {
    await this.db.updateTable('uploads').set({ reserved }).where('id', '=', id).where('claim', '=', claim).execute();
  }

  async releaseUpload(id: string, claim: string): Promise<void> {
    await this.db.updateTable('uploads').set({ locked_until: null, claim: null, reserved: 0 }).where('id', '=', id).where('claim', '=', claim).execute();
  }

  /** Records a chunk written under a claim, and releases the claim; false when the claim was lost. */
  async advanceUpload(id: string, claim: string, size: number, sha256: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('uploads')
      .set({ size, sha256, updated_at: now, locked_until: null, claim: null, reserved: 0 })
      .where('id', '=', id)
      .where('claim', '=', claim)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Open upload sessions in the repositories of `namespace` (a key range: "namespace/..."). */
  async countUploads(namespace: string): Promise<number> {
    const { from, to } = namespaceRange(namespace);
    const row = await this.db
      .selectFrom('uploads')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('repository', '>=', from)
      .where('repository', '<', to)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.db.deleteFrom('uploads').where('id', '=', id).execute();
  }

  /** Sessions idle since `before` that no writer holds at `now`. */
  async uploadsIdleSince(before: number, now: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('uploads')
      .select('id')
      .where('updated_at', '<', before)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Completes an upload: the blob becomes readable in the repository and the session ends, together. */
  async completeUpload(id: string, repository: string, digest: string, size: number, now: number, bytesPresent?: () => Promise<boolean>): Promise<void> {
    await this.linkChecked(repository, digest, size, now, bytesPresent, async (trx) => {
      await trx.deleteFrom('uploads').where('id', '=', id).execute();
    });
  }

  /** Whether `claim` still holds the session (checked before its bytes are committed). */
  async holdsUploadClaim(id: string, claim: string, now: number): Promise<boolean> {
    const row = await this.db.selectFrom('uploads').select('id').where('id', '=', id).where('claim', '=', claim).where('locked_until', '>=', now).executeTakeFirst();
    return row !== undefined;
  }

  // ---- manifests and tags -------------------------------------------------------------------

  /**
   * Stores a manifest, its references and tags in one transaction, after checking that everything
   * it refers to exists in the repository. Returns the references that are missing (nothing stored).
   */
  async putManifest(m: NewManifest): Promise<{ missing: ManifestReference[]; mismatched?: SizeMismatch }> {
    return this.db.transaction().execute(async (trx) => {
      // a protected tag that names another manifest already: refused before anything is checked
      const refusals = new Map<string, string>();
      for (const tag of m.tags) {
        const refusal = m.guard?.(tag, 'moved');
        if (refusal !== undefined) refusals.set(tag, refusal);
      }
      if (refusals.size > 0) {
        const moved = await trx.selectFrom('tags').select('name').where('repository', '=', m.repository).where('name', 'in', [...refusals.keys()]).where('digest', '<>', m.digest).orderBy('name').executeTakeFirst();
        if (moved) throw new TagProtected(refusals.get(moved.name)!);
      }
      const { missing, mismatched } = await this.checkReferences(trx, m.repository, m.references);
      if (missing.length > 0 || mismatched) return { missing, mismatched };
      // a manifest pushed again (a new tag for it): the collector cannot take it while this runs
      if (this.postgres) await trx.selectFrom('manifests').select('digest').where('repository', '=', m.repository).where('digest', '=', m.digest).forShare().execute();
      await this.ensureRepository(trx, m.repository, m.now);
      await insertManifest(trx, m);
      if (m.details) await insertDetails(trx, m.repository, m.digest, m.details);
      const pushedBy = m.actor ?? null;
      for (const tag of m.tags) {
        const refusal = refusals.get(tag);
        await trx
          .insertInto('tags')
          .values({ repository: m.repository, name: tag, digest: m.digest, updated_at: m.now, pushed_by: pushedBy })
          .onConflict((oc) => {
            const update = oc.columns(['repository', 'name']).doUpdateSet({ digest: m.digest, updated_at: m.now, pushed_by: pushedBy });
            // a protected tag is updated only where it names this manifest already
            return refusal === undefined ? update : update.where('tags.digest', '=', m.digest);
          })
          .execute();
        if (refusal === undefined) continue;
        // a concurrent push that created it first committed before the upsert above went on
        // (PostgreSQL waits on the key; SQLite writes one at a time): this read sees its manifest
        const row = await trx.selectFrom('tags').select('digest').where('repository', '=', m.repository).where('name', '=', tag).executeTakeFirst();
        if (row?.digest !== m.digest) throw new TagProtected(refusal);
      }
      await trx.updateTable('repositories').set({ last_pushed_at: m.now, kind: kindAfterPush(m.repository, m.digest) }).where('name', '=', m.repository).execute();
      // with the change, so that a crash before its delivery loses nothing (hub/outbox.ts delivers it)
      const payload = { repository: m.repository, digest: m.digest, mediaType: m.mediaType, size: m.content.length, tags: m.tags, actor: m.actor ?? null };
      await appendOutbox(trx, { type: 'manifest.pushed', payload }, m.now);
      return { missing: [] };
    });
  }

  /**
   * What the references name that the repository lacks, and the first descriptor whose size is not
   * the stored size. Batched: a manifest may name tens of thousands of layers, more than SQLite
   * binds in one statement.
   */
  private async checkReferences(db: Db, repository: string, references: ManifestReference[]): Promise<{ missing: ManifestReference[]; mismatched?: SizeMismatch }> {
    const blobs = [...new Set(references.filter((r) => r.kind === 'blob').map((r) => r.digest))];
    const manifests = [...new Set(references.filter((r) => r.kind === 'manifest').map((r) => r.digest))];
    const stored = new Map<string, number>();
    // read in key order (sorted batches): they lock in the collector's order, never against it
    for (const batch of chunks([...blobs].sort(), 500)) {
      const rows = await db
        .selectFrom('blob_links')
        .leftJoin('blobs', 'blobs.digest', 'blob_links.digest')
        .select(['blob_links.digest', 'blobs.size'])
        .where('blob_links.repository', '=', repository)
        .where('blob_links.digest', 'in', batch)
        // held until the manifest is stored: the collector cannot remove these links meanwhile,
        // and a link it removed first is not seen here (docs/garbage-collection.md); taken in key
        // order, as the collector takes them, so that the two never deadlock
        .$if(this.postgres, (q) => q.orderBy('blob_links.digest').forShare('blob_links'))
        .execute();
      for (const r of rows) stored.set(`blob ${r.digest}`, r.size === null ? -1 : Number(r.size));
    }
    for (const batch of chunks([...manifests].sort(), 500)) {
      const rows = await db
        .selectFrom('manifests')
        .select(['digest', 'size'])
        .where('repository', '=', repository)
        .where('digest', 'in', batch)
        .$if(this.postgres, (q) => q.orderBy('digest').forShare())
        .execute();
      for (const r of rows) stored.set(`manifest ${r.digest}`, Number(r.size));
    }
    const missing = [
      ...blobs.filter((d) => !stored.has(`blob ${d}`)).map((digest) => ({ digest, kind: 'blob' as const })),
      ...manifests.filter((d) => !stored.has(`manifest ${d}`)).map((digest) => ({ digest, kind: 'manifest' as const })),
    ];
    for (const reference of references) {
      const size = stored.get(`${reference.kind} ${reference.digest}`);
      if (reference.size !== undefined && size !== undefined && size !== -1 && size !== reference.size) return { missing, mismatched: { reference, stored: size } };
    }
    return { missing };
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined> {
    const row = await this.db
      .selectFrom('manifests')
      .select(['digest', 'media_type', 'size', 'content'])
      .where('repository', '=', repository)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row && toManifestRecord(row);
  }

  async getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | undefined> {
    const row = await this.db
      .selectFrom('tags')
      .innerJoin('manifests', (join) =>
        join.onRef('manifests.repository', '=', 'tags.repository').onRef('manifests.digest', '=', 'tags.digest'),
      )
      .select(['manifests.digest', 'manifests.media_type', 'manifests.size', 'manifests.content'])
      .where('tags.repository', '=', repository)
      .where('tags.name', '=', tag)
      .executeTakeFirst();
    return row && toManifestRecord(row);
  }

  /**
   * Deletes a manifest with its tags and references, and its referrers (signatures, SBOMs: the
   * manifests whose subject it is) with theirs, each with its 'manifest.deleted' outbox event.
   * An index's children stay: another index, or a tag, may still name them.
   */
  async deleteManifest(repository: string, digest: string, event: Deletion = {}): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const now = event.now ?? Date.now();
      let deleted = false;
      for (const pending = [digest]; pending.length > 0; ) {
        const current = pending.pop()!;
        const result = await trx.deleteFrom('manifests').where('repository', '=', repository).where('digest', '=', current).executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) continue;
        deleted = true;
        // read after the row is deleted: a push tagging it (which holds the row) has committed
        if (event.guard) {
          const tags = await trx.selectFrom('tags').select('name').where('repository', '=', repository).where('digest', '=', current).orderBy('name').execute();
          for (const { name } of tags) {
            const refusal = event.guard(name, 'deleted');
            if (refusal !== undefined) throw new TagProtected(refusal);
          }
        }
        await trx.deleteFrom('tags').where('repository', '=', repository).where('digest', '=', current).execute();
        await trx.deleteFrom('manifest_references').where('repository', '=', repository).where('manifest_digest', '=', current).execute();
        await trx.deleteFrom('manifest_details').where('repository', '=', repository).where('digest', '=', current).execute();
        const payload = { repository, digest: current, actor: event.actor ?? null, ...(current !== digest ? { subject: digest } : {}) };
        await appendOutbox(trx, { type: 'manifest.deleted', payload }, now);
        const referrers = await trx.selectFrom('manifests').select('digest').where('repository', '=', repository).where('subject', '=', current).execute();
        pending.push(...referrers.map((r) => r.digest));
      }
      if (deleted) await trx.updateTable('repositories').set({ kind: repositoryKind(repository) }).where('name', '=', repository).execute();
      return deleted;
    });
  }

  /** The stored details of some manifests of a repository, with when each was pushed. */
  async manifestDetails(repository: string, digests: readonly string[]): Promise<Map<string, ManifestDetailsRecord & { pushedAt: number }>> {
    const found = new Map<string, ManifestDetailsRecord & { pushedAt: number }>();
    for (const batch of chunks([...digests], 500)) {
      const rows = await this.db
        .selectFrom('manifest_details as d')
        .innerJoin('manifests as m', (join) => join.onRef('m.repository', '=', 'd.repository').onRef('m.digest', '=', 'd.digest'))
        .selectAll('d')
        .select('m.created_at')
        .where('d.repository', '=', repository)
        .where('d.digest', 'in', batch)
        .execute();
      for (const row of rows) found.set(row.digest, { ...detailsOf(row), pushedAt: Number(row.created_at) });
    }
    return found;
  }

  /**
   * Manifests stored without details (pushed before Pier kept them), after `after` in key order:
   * platform manifests first (`indexes` false), then indexes, whose details read their children's.
   */
  async manifestsWithoutDetails(indexes: boolean, after: { repository: string; digest: string } | undefined, limit: number): Promise<Array<ManifestRecord & { repository: string }>> {
    const types = [MediaType.OciIndex, MediaType.DockerManifestList];
    const rows = await this.db
      .selectFrom('manifests as m')
      .leftJoin('manifest_details as d', (join) => join.onRef('d.repository', '=', 'm.repository').onRef('d.digest', '=', 'm.digest'))
      .select(['m.repository', 'm.digest', 'm.media_type', 'm.size', 'm.content'])
      .where('d.digest', 'is', null)
      .where('m.media_type', indexes ? 'in' : 'not in', types)
      .$if(after !== undefined, (q) => q.where(({ eb, refTuple, tuple }) => eb(refTuple('m.repository', 'm.digest'), '>', tuple(after!.repository, after!.digest))))
      .orderBy('m.repository')
      .orderBy('m.digest')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ repository: row.repository, ...toManifestRecord(row) }));
  }

  /** Stores the details of a manifest stored without them; details already there stay. */
  async addManifestDetails(repository: string, digest: string, details: ManifestDetailsRecord): Promise<void> {
    await insertDetails(this.db, repository, digest, details);
  }

  /**
   * Deletes a tag (and writes its 'tag.deleted' outbox event, with `reason` when given); the
   * manifest stays. With `ifUnchanged`, only while the tag still names that digest, pushed at that
   * time (a retention run deletes what it decided on, never a tag pushed again meanwhile).
   */
  async deleteTag(repository: string, tag: string, event: Deletion = {}): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('tags').select(['digest', 'updated_at']).where('repository', '=', repository).where('name', '=', tag).executeTakeFirst();
      if (!row) return false;
      const refusal = event.guard?.(tag, 'deleted');
      if (refusal !== undefined) throw new TagProtected(refusal);
      const expected = event.ifUnchanged;
      let deletion = trx.deleteFrom('tags').where('repository', '=', repository).where('name', '=', tag);
      if (expected) deletion = deletion.where('digest', '=', expected.digest).where('updated_at', '=', expected.updatedAt);
      const deleted = await deletion.executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) return false;
      const payload = { repository, tag, digest: row.digest, actor: event.actor ?? null, ...(event.reason !== undefined ? { reason: event.reason } : {}) };
      await appendOutbox(trx, { type: 'tag.deleted', payload }, event.now ?? Date.now());
      return true;
    });
  }

  /** Tag names in byte order; a page (`n` at most CACHED_PAGE) is kept while the database is unchanged. */
  listTags(repository: string, page: Page): Promise<readonly string[]> {
    const read = () => this.readTags(repository, page);
    if (!this.reads || page.n === undefined || page.n > CACHED_PAGE) return read();
    return this.reads.get(`tags\n${repository}\n${page.n}\n${page.last ?? ''}`, read);
  }

  private async readTags(repository: string, page: Page): Promise<readonly string[]> {
    let query = this.db.selectFrom('tags').select('name').where('repository', '=', repository).orderBy('name');
    if (page.last !== undefined) query = query.where('name', '>', page.last);
    if (page.n !== undefined) query = query.limit(page.n);
    return Object.freeze((await query.execute()).map((r) => r.name));
  }

  /** The manifests whose subject is `subject`, by digest, after `page.last`, at most `page.n`. */
  async listReferrers(repository: string, subject: string, artifactType?: string, page: Page = {}): Promise<ReferrerRecord[]> {
    let query = this.db
      .selectFrom('manifests')
      .select(['digest', 'media_type', 'size', 'artifact_type', 'annotations'])
      .where('repository', '=', repository)
      .where('subject', '=', subject)
      .orderBy('digest');
    if (artifactType !== undefined) query = query.where('artifact_type', '=', artifactType);
    if (page.last !== undefined) query = query.where('digest', '>', page.last);
    if (page.n !== undefined) query = query.limit(page.n);
    return (await query.execute()).map((r) => ({
      digest: r.digest,
      mediaType: r.media_type,
      size: Number(r.size),
      artifactType: r.artifact_type,
      annotations: r.annotations ? (JSON.parse(r.annotations) as Record<string, string>) : undefined,
    }));
  }
}

/**
 * 'image' when the repository holds an image or an index, 'artifact' when it holds only other
 * manifests (Helm charts, signatures...), null when it holds none. From the manifests' own
 * columns (an image manifest's artifact_type is its config's type), so it needs no details.
 */
/**
 * A manifest's row and what it refers to (each reference once), as a push and the pull-through
 * cache store them; nothing if the repository holds it already.
 */
export async function insertManifest(
  trx: Transaction<Database>,
  m: Pick<NewManifest, 'repository' | 'digest' | 'mediaType' | 'content' | 'artifactType' | 'subject' | 'annotations' | 'references' | 'now'>,
): Promise<void> {
  await trx
    .insertInto('manifests')
    .values({
      repository: m.repository,
      digest: m.digest,
      media_type: m.mediaType,
      size: m.content.length,
      content: m.content,
      artifact_type: m.artifactType ?? null,
      subject: m.subject ?? null,
      annotations: m.annotations ? JSON.stringify(m.annotations) : null,
      created_at: m.now,
    })
    .onConflict((oc) => oc.columns(['repository', 'digest']).doNothing())
    .execute();
  const unique = new Map(m.references.map((r) => [`${r.kind} ${r.digest}`, r]));
  // batches keep each statement under SQLite's limit of bound variables
  for (const batch of chunks([...unique.values()], 500)) {
    await trx
      .insertInto('manifest_references')
      .values(batch.map((r) => ({ repository: m.repository, manifest_digest: m.digest, digest: r.digest, kind: r.kind })))
      .onConflict((oc) => oc.columns(['repository', 'manifest_digest', 'digest', 'kind']).doNothing())
      .execute();
  }
}

export function repositoryKind(repository: string) {
  const images = sql.join(IMAGE_KINDS.map((t) => sql`${t}`));
  return sql<string | null>`case
    when exists (select 1 from manifests where repository = ${repository} and (media_type in (${images}))) then 'image'
    when exists (select 1 from manifests where repository = ${repository} and artifact_type in (${images})) then 'image'
    when exists (select 1 from manifests where repository = ${repository}) then 'artifact'
    else null end`;
}

/**
 * The repository's kind once the manifest `digest` was stored in it: a push only adds, so the kind
 * follows from the one it had and the new manifest's row (a key lookup), where repositoryKind reads
 * every manifest of the repository. A repository without a kind yet (nothing pushed, or only what
 * the pull-through cache stored, which keeps no kind) gets the full rule.
 */
function kindAfterPush(repository: string, digest: string) {
  const images = sql.join(IMAGE_KINDS.map((t) => sql`${t}`));
  return sql<string | null>`case
    when exists (select 1 from manifests where repository = ${repository} and digest = ${digest} and (media_type in (${images}) or artifact_type in (${images}))) then 'image'
    when kind is null then ${repositoryKind(repository)}
    when kind = 'image' then 'image'
    else 'artifact' end`;
}

const IMAGE_KINDS = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciConfig, MediaType.DockerConfig];

async function insertDetails(db: Db, repository: string, digest: string, d: ManifestDetailsRecord): Promise<void> {
  await db
    .insertInto('manifest_details')
    .values({
      repository,
      digest,
      content_type: d.contentType,
      size: d.size,
      config_digest: d.configDigest ?? null,
      os: d.platform?.os ?? null,
      architecture: d.platform?.architecture ?? null,
      variant: d.platform?.variant ?? null,
      created: d.created ?? null,
      description: d.description ?? null,
      platforms: d.platforms ? JSON.stringify(d.platforms) : null,
      history: d.history ? JSON.stringify(d.history.map((h) => ({ created_by: h.createdBy ?? null, empty_layer: h.emptyLayer }))) : null,
    })
    .onConflict((oc) => oc.columns(['repository', 'digest']).doNothing())
    .execute();
}

/** A manifest_details row, back in the shape it was computed in. */
export function detailsOf(row: Selectable<ManifestDetailsTable>): ManifestDetailsRecord {
  const details: ManifestDetailsRecord = { contentType: row.content_type as ManifestDetailsRecord['contentType'], size: Number(row.size) };
  if (row.config_digest) details.configDigest = row.config_digest;
  if (row.os && row.architecture) details.platform = { os: row.os, architecture: row.architecture, ...(row.variant ? { variant: row.variant } : {}) };
  if (row.created !== null) details.created = Number(row.created);
  if (row.description !== null) details.description = row.description;
  if (row.platforms) details.platforms = JSON.parse(row.platforms) as PlatformRecord[];
  if (row.history) {
    details.history = (JSON.parse(row.history) as Array<{ created_by: string | null; empty_layer: boolean }>).map((h) => ({
      ...(h.created_by !== null ? { createdBy: h.created_by } : {}),
      emptyLayer: h.empty_layer,
    }));
  }
  return details;
}

function toManifestRecord(row: { digest: string; media_type: string; size: number; content: Buffer }): ManifestRecord {
  return { digest: row.digest, mediaType: row.media_type, size: Number(row.size), content: Buffer.from(row.content) };
}

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
