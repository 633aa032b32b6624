import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import { dialectOf } from './dialect.js';
import { Leases, type HeldLease } from './leases.js';
import { appendOutbox } from './outbox.js';
import { repositoryKind } from './registry-index.js';
import type { Database, GcRunsTable } from './schema.js';

export interface LinkKey {
  repository: string;
  digest: string;
}

export interface BlobKey {
  digest: string;
  size: number;
}

export interface GcRunRecord {
  id: string;
  trigger: string;
  status: GcRunsTable['status'];
  dryRun: boolean;
  untagged: boolean;
  graceMs: number;
  startedAt: number;
  finishedAt: number | null;
  report: Record<string, unknown> | null;
  error: string | null;
}

/**
 * The garbage collector's queries (registry/gc/collector.ts; the argument that they are safe
 * while pushes go on is docs/garbage-collection.md). Candidates are read a page at a time in key
 * order, never all at once; every change re-checks its condition inside its own transaction,
 * after taking the rows' locks on PostgreSQL (a later statement of the transaction sees what the
 * transactions it waited for committed), so that a candidate read before a push is never deleted
 * after it.
 */
export class GcIndex {
  private readonly postgres: boolean;
  private readonly leases: Leases;

  constructor(private readonly db: Kysely<Database>) {
    this.postgres = dialectOf(db) === 'postgres';
    this.leases = new Leases(db);
  }

  // ---- the lease: one collector at a time, across replicas (metadata/leases.ts) -------------

  /** Takes the lease `name` when nobody holds it (or its holder let it expire); true when `holder` has it now. */
  acquireLease(name: string, holder: string, now: number, until: number): Promise<boolean> {
    return this.leases.acquire(name, holder, now, until);
  }

  /** Takes the lease and renews it until released; undefined when another holds it (Leases.hold). */
  holdLease(name: string, holder: string, options: { now: () => number; leaseMs: number }): Promise<HeldLease | undefined> {
    return this.leases.hold(name, holder, options);
  }

  // ---- runs ---------------------------------------------------------------------------------

  async startRun(run: { id: string; trigger: string; dryRun: boolean; untagged: boolean; graceMs: number; now: number }): Promise<void> {
    await this.db
      .insertInto('gc_runs')
      .values({
        id: run.id,
        trigger: run.trigger,
        status: 'running',
        dry_run: run.dryRun ? 1 : 0,
        untagged: run.untagged ? 1 : 0,
        grace_ms: run.graceMs,
        started_at: run.now,
        finished_at: null,
        report: null,
        error: null,
      })
      .execute();
  }

  async finishRun(id: string, outcome: { status: 'succeeded' | 'failed'; report?: object; error?: string; now: number }): Promise<void> {
    await this.db
      .updateTable('gc_runs')
      .set({ status: outcome.status, finished_at: outcome.now, report: outcome.report ? JSON.stringify(outcome.report) : null, error: outcome.error ?? null })
      .where('id', '=', id)
      .execute();
  }

  /** When the latest run that was not a dry run started (a schedule counts from there). */
  async lastRunStartedAt(): Promise<number | undefined> {
    const row = await this.db.selectFrom('gc_runs').select(({ fn }) => fn.max('started_at').as('last')).where('dry_run', '=', 0).executeTakeFirst();
    return row?.last === null || row?.last === undefined ? undefined : Number(row.last);
  }

  /** The latest runs, newest first. */
  async runs(limit: number): Promise<GcRunRecord[]> {
    const rows = await this.db.selectFrom('gc_runs').selectAll().orderBy('started_at', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      trigger: r.trigger,
      status: r.status,
      dryRun: Number(r.dry_run) === 1,
      untagged: Number(r.untagged) === 1,
      graceMs: Number(r.grace_ms),
      startedAt: Number(r.started_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
      report: r.report ? (JSON.parse(r.report) as Record<string, unknown>) : null,
      error: r.error,
    }));
  }

  // ---- the blobs the index knows (pier fsck) ------------------------------------------------

  /** Blobs that are not being deleted, after `after` in digest order. */
  async liveBlobs(after: string, limit: number): Promise<BlobKey[]> {
    const rows = await this.db.selectFrom('blobs').select(['digest', 'size']).where('deleting_at', 'is', null).where('digest', '>', after).orderBy('digest').limit(limit).execute();
    return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
  }

  /** Whether a blob is still known and not being deleted (a check found its bytes missing meanwhile). */
  async isLiveBlob(digest: string): Promise<boolean> {
    return (await this.db.selectFrom('blobs').select('digest').where('digest', '=', digest).where('deleting_at', 'is', null).executeTakeFirst()) !== undefined;
  }

  /** Which of `digests` have a row, being deleted or not (the others are bytes no index row knows). */
  async knownBlobs(digests: readonly string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db.selectFrom('blobs').select('digest').where('digest', 'in', [...digests]).execute();
    return new Set(rows.map((r) => r.digest));
  }

  /**
   * Takes bytes that no row knows (an orphan) into the collector's protocol, marked for deletion:
   * from the commit on, nothing links them (RegistryIndex.link refuses a marked row), so they may
   * be deleted, then the row forgotten (forgetDeleted; a run killed between the two leaves a
   * marked row that the next collection finishes). False when a row exists now (a link was made
   * meanwhile): the bytes are not an orphan any more, and stay.
   */
  async adoptOrphan(blob: BlobKey, now: number): Promise<boolean> {
    const result = await this.db
      .insertInto('blobs')
      .values({ digest: blob.digest, size: blob.size, created_at: now, deleting_at: now })
      .onConflict((oc) => oc.column('digest').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  // ---- blobs whose deletion was decided (a run killed after marking them) -------------------

  /** Blobs marked for deletion, after `after` in digest order. */
  async deletingBlobs(after: string, limit: number): Promise<BlobKey[]> {
    const rows = await this.db
      .selectFrom('blobs')
      .select(['digest', 'size'])
      .where('deleting_at', 'is not', null)
      .where('digest', '>', after)
      .orderBy('digest')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
  }

  /** The bytes of these marked blobs are gone: their rows go (a new push of one starts afresh). */
  async forgetDeleted(digests: string[]): Promise<void> {
    if (digests.length === 0) return;
    await this.db.deleteFrom('blobs').where('digest', 'in', digests).where('deleting_at', 'is not', null).execute();
  }

  // ---- untagged manifests -------------------------------------------------------------------

  /** Repositories after `after` in name order, except the pull-through cache's (collected when idle). */
  async repositoriesAfter(after: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('repositories as r')
      .select('r.name')
      .where('r.name', '>', after)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('proxy_repositories as p').select('p.repository').whereRef('p.repository', '=', 'r.name'))))
      .orderBy('r.name')
      .limit(limit)
      .execute();
    return rows.map((r) => r.name);
  }

  /**
   * Manifests of a repository that nothing keeps, after `after` in digest order: kept are tagged
   * manifests, manifests younger than the grace period, and, transitively, the children of a
   * kept index and the referrers of a kept manifest (a recursive query: the database walks the
   * graph, not this process).
   */
  async untaggedManifests(repository: string, cutoff: number, after: string, limit: number): Promise<string[]> {
    const result = await sql<{ digest: string }>`
      with recursive kept(digest) as (
        select digest from tags where repository = ${repository}
        union
        select digest from manifests where repository = ${repository} and created_at >= ${cutoff}
        union
        select e.child from (
          select manifest_digest as parent, digest as child from manifest_references where repository = ${repository} and kind = 'manifest'
          union all
          select subject as parent, digest as child from manifests where repository = ${repository} and subject is not null
        ) e join kept k on e.parent = k.digest
      )
      select m.digest from manifests m
      where m.repository = ${repository} and m.digest > ${after} and m.digest not in (select digest from kept)
      order by m.digest limit ${limit}`.execute(this.db);
    return result.rows.map((r) => r.digest);
  }

  /**
   * Deletes an untagged manifest if, now, nothing keeps it directly: no tag, no index of the
   * repository listing it, no subject still stored, and older than `cutoff`. A manifest that only
   * another candidate keeps (an untagged index's child) goes in a later pass, after it. Writes the
   * 'manifest.deleted' outbox event.
   */
  async deleteUntagged(repository: string, digest: string, cutoff: number, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // waits for a push holding the row (a tag for it, an index naming it): seen below, once committed
      if (this.postgres) await trx.selectFrom('manifests').select('digest').where('repository', '=', repository).where('digest', '=', digest).forUpdate().execute();
      const result = await trx
        .deleteFrom('manifests as m')
        .where('m.repository', '=', repository)
        .where('m.digest', '=', digest)
        .where('m.created_at', '<', cutoff)
        .where(({ not, exists, selectFrom, or, eb }) =>
          eb.and([
            not(exists(selectFrom('tags as t').select('t.name').whereRef('t.repository', '=', 'm.repository').whereRef('t.digest', '=', 'm.digest'))),
            not(
              exists(
                selectFrom('manifest_references as r')
                  .select('r.digest')
                  .whereRef('r.repository', '=', 'm.repository')
                  .whereRef('r.digest', '=', 'm.digest')
                  .where('r.kind', '=', 'manifest'),
              ),
            ),
            or([eb('m.subject', 'is', null), not(exists(selectFrom('manifests as s').select('s.digest').whereRef('s.repository', '=', 'm.repository').whereRef('s.digest', '=', 'm.subject')))]),
          ]),
        )
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await trx.deleteFrom('manifest_references').where('repository', '=', repository).where('manifest_digest', '=', digest).execute();
      await trx.deleteFrom('manifest_details').where('repository', '=', repository).where('digest', '=', digest).execute();
      await trx.updateTable('repositories').set({ kind: repositoryKind(repository) }).where('name', '=', repository).execute();
      await appendOutbox(trx, { type: 'manifest.deleted', payload: { repository, digest, actor: null, reason: 'untagged' } }, now);
      return true;
    });
  }

  // ---- blob links ---------------------------------------------------------------------------

  /** Links no manifest of their repository names, not seen since `cutoff`, after `after` in key order. */
  async unreferencedLinks(after: LinkKey | undefined, cutoff: number, limit: number): Promise<LinkKey[]> {
    const rows = await this.db
      .selectFrom('blob_links as l')
      .select(['l.repository', 'l.digest'])
      .where('l.last_seen_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) => not(exists(referencesOfLink(selectFrom))))
      .$if(after !== undefined, (q) => q.where(({ eb, refTuple, tuple }) => eb(refTuple('l.repository', 'l.digest'), '>', tuple(after!.repository, after!.digest))))
      .orderBy('l.repository')
      .orderBy('l.digest')
      .limit(limit)
      .execute();
    return rows;
  }

  /** Removes those of `links` that are still unreferenced and not seen since `cutoff`; resolves to how many went. */
  async deleteUnreferencedLinks(links: LinkKey[], cutoff: number): Promise<number> {
    if (links.length === 0) return 0;
    return this.db.transaction().execute(async (trx) => {
      const keys = (eb: any): Expression<SqlBool> => eb.or(links.map((l) => eb.and([eb('repository', '=', l.repository), eb('digest', '=', l.digest)])));
      // waits for the pushes that hold these links (a manifest naming them): their references
      // are committed, and seen by the delete below, before it runs
      if (this.postgres) await trx.selectFrom('blob_links').select('digest').where(keys).orderBy('repository').orderBy('digest').forUpdate().execute();
      const result = await trx
        .deleteFrom('blob_links as l')
        .where(keys)
        .where('l.last_seen_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) => not(exists(referencesOfLink(selectFrom))))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  // ---- blobs --------------------------------------------------------------------------------

  /**
   * Blobs older than `cutoff` that no manifest anywhere names and that no repository links, after
   * `after` in digest order. With `staleLinks` (a dry run, which removes no link first), links not
   * seen since `cutoff` do not count: what the run would have removed.
   */
  async unlinkedBlobs(after: string, cutoff: number, limit: number, staleLinks = false): Promise<BlobKey[]> {
    const rows = await this.db
      .selectFrom('blobs as b')
      .select(['b.digest', 'b.size'])
      .where('b.deleting_at', 'is', null)
      .where('b.created_at', '<', cutoff)
      .where('b.digest', '>', after)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('blob_links as l')
              .select('l.digest')
              .whereRef('l.digest', '=', 'b.digest')
              .$if(staleLinks, (q) => q.where('l.last_seen_at', '>=', cutoff)),
          ),
        ),
      )
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('manifest_references as r').select('r.digest').whereRef('r.digest', '=', 'b.digest').where('r.kind', '=', 'blob'))))
      .orderBy('b.digest')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
  }

  /**
   * Marks for deletion those of `digests` that still qualify (unlinked, unnamed, older than
   * `cutoff`); resolves to every one of them that is marked now. From the commit on, no link to
   * them can be made (RegistryIndex.link refuses), so their bytes may go.
   */
  async markDeleting(digests: string[], cutoff: number, now: number): Promise<BlobKey[]> {
    if (digests.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      // waits for the links being made to these blobs (an upload's commit, a mount): seen below
      if (this.postgres) await trx.selectFrom('blobs').select('digest').where('digest', 'in', digests).orderBy('digest').forUpdate().execute();
      await trx
        .updateTable('blobs as b')
        .set({ deleting_at: now })
        .where('b.digest', 'in', digests)
        .where('b.deleting_at', 'is', null)
        .where('b.created_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('blob_links as l').select('l.digest').whereRef('l.digest', '=', 'b.digest'))))
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('manifest_references as r').select('r.digest').whereRef('r.digest', '=', 'b.digest').where('r.kind', '=', 'blob'))))
        .execute();
      const rows = await trx.selectFrom('blobs').select(['digest', 'size']).where('digest', 'in', digests).where('deleting_at', 'is not', null).execute();
      return rows.map((r) => ({ digest: r.digest, size: Number(r.size) }));
    });
  }
}

/** The references that keep a link (`l`): a manifest of its repository naming the blob. */
function referencesOfLink(selectFrom: any) {
  return selectFrom('manifest_references as r')
    .select('r.digest')
    .whereRef('r.repository', '=', 'l.repository')
    .whereRef('r.digest', '=', 'l.digest')
    .where('r.kind', '=', 'blob');
}
