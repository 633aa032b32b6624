import { randomUUID } from 'node:crypto';
import type { BlobKey, GcIndex, GcRunRecord, LinkKey } from '../../metadata/gc-index.js';
import type { ProxyIndex } from '../../metadata/proxy-index.js';
import type { RegistryIndex } from '../../metadata/registry-index.js';
import type { Digest } from '../../oci/digest.js';
import type { RepositoryName } from '../../oci/names.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { Clock, ManifestCache } from '../ports.js';

export const DEFAULT_GRACE_MS = 3_600_000;
const LEASE = 'gc';
const PAGE = 500;
/** store deletions in flight at once */
const DELETE_BATCH = 16;

export interface CollectOptions {
  /** report what would go, change nothing */
  dryRun?: boolean;
  /** also collect manifests that no tag keeps (children of a kept index and referrers of a kept manifest are kept) */
  untagged?: boolean;
  /** nothing younger than this goes: blobs stored, links seen, manifests pushed (default one hour) */
  graceMs?: number;
  /** who asked: 'cli', 'api', 'schedule' (recorded with the run) */
  trigger?: string;
  onProgress?: (progress: GcProgress) => void;
  /** stops the run between two steps; what it did stays done, the next run finishes */
  signal?: AbortSignal;
}

export type GcPhase = 'resume' | 'proxies' | 'manifests' | 'links' | 'blobs';

export interface GcProgress {
  phase: GcPhase;
  /** what the phase went through so far (repositories, links or blobs) */
  scanned: number;
  /** what the phase deleted (or would) so far */
  collected: number;
}

export interface GcReport {
  runId: string;
  dryRun: boolean;
  untagged: boolean;
  graceMs: number;
  /** blobs a killed run had marked, whose deletion this run finished */
  resumedBlobs: number;
  /** cached repositories of the pull-through cache that nobody read for the idle time */
  proxyRepositories: number;
  manifests: number;
  links: number;
  blobs: number;
  /** bytes of the deleted blobs (in a dry run: of the blobs that would be; a lower bound with `untagged`) */
  bytesFreed: number;
  startedAt: number;
  durationMs: number;
}

/** Test hooks: a gate between decisions, as engine.testing.ts uses for uploads. */
export interface GcHooks {
  /** after blobs were marked (committed), before their bytes are deleted */
  beforeSweep?(digests: string[]): Promise<void>;
  /** after a page of unreferenced links was read, before they are removed */
  beforeUnlink?(links: LinkKey[]): Promise<void>;
}

export interface CollectorOptions {
  gcIndex: GcIndex;
  index: RegistryIndex;
  store: BlobStore;
  clock: Clock;
  manifestCache: ManifestCache;
  /** the pull-through cache: repositories idle for `proxyIdleMs` are dropped before the sweep */
  proxies?: { index: ProxyIndex; idleMs: number };
  /** how long the lease holds without renewal (renewed every third of it while the run goes on) */
  leaseMs?: number;
  /** the grace period of a run that names none (the gc.grace setting; default one hour) */
  graceMs?: number;
  hooks?: GcHooks;
}

/** Another collector holds the lease (on this replica or another): one runs at a time. */
export class CollectorBusy extends Error {
  constructor() {
    super('a garbage collection is running already (on this or another replica); try again when it has finished');
    this.name = 'CollectorBusy';
  }
}

/**
 * Online garbage collection: mark and sweep from the index while pushes and pulls go on
 * (docs/garbage-collection.md says why it cannot lose data). In order:
 * 1. blobs that a killed run marked are deleted (resume);
 * 2. cached repositories of the pull-through cache that nobody read for the idle time go;
 * 3. with `untagged`, manifests that nothing keeps go (an index before its children);
 * 4. blob links that no manifest of their repository names, not seen for the grace period, go;
 * 5. blobs that nothing links or names, older than the grace period, are marked, then their bytes
 *    are deleted, then their rows.
 * Each step pages through the index in key order: memory stays flat however large the registry.
 */
export class GarbageCollector {
  constructor(private readonly options: CollectorOptions) {}

  /** The latest runs, newest first, with their reports. */
  runs(limit = 20): Promise<GcRunRecord[]> {
    return this.options.gcIndex.runs(limit);
  }

  /** When the latest run that was not a dry run started, on any replica. */
  lastRunStartedAt(): Promise<number | undefined> {
    return this.options.gcIndex.lastRunStartedAt();
  }

  async collect(options: CollectOptions = {}): Promise<GcReport> {
    const { gcIndex, clock } = this.options;
    const runId = randomUUID();
    const startedAt = clock.now();
    const lease = await gcIndex.holdLease(LEASE, runId, { now: () => clock.now(), leaseMs: this.options.leaseMs ?? 60_000 });
    if (!lease) throw new CollectorBusy();
    const report: GcReport = {
      runId,
      dryRun: options.dryRun ?? false,
      untagged: options.untagged ?? false,
      graceMs: options.graceMs ?? this.options.graceMs ?? DEFAULT_GRACE_MS,
      resumedBlobs: 0,
      proxyRepositories: 0,
      manifests: 0,
      links: 0,
      blobs: 0,
      bytesFreed: 0,
      startedAt,
      durationMs: 0,
    };
    const run = new Run(this.options, options, report, () => {
      if (lease.lost()) throw new Error('the garbage collector lost its lease (the database did not answer for too long); run it again');
      if (options.signal?.aborted) throw new Error('the garbage collection was stopped; run it again to finish');
    });
    try {
      await gcIndex.startRun({ id: runId, trigger: options.trigger ?? 'manual', dryRun: report.dryRun, untagged: report.untagged, graceMs: report.graceMs, now: startedAt });
      await run.all();
      report.durationMs = clock.now() - startedAt;
      await gcIndex.finishRun(runId, { status: 'succeeded', report, now: clock.now() });
      return report;
    } catch (error) {
      report.durationMs = clock.now() - startedAt;
      await gcIndex.finishRun(runId, { status: 'failed', report, error: (error as Error).message, now: clock.now() }).catch(() => {});
      throw error;
    } finally {
      await lease.release();
    }
  }
}

/** One collection, holding the lease. */
class Run {
  private readonly cutoff: number;
  private readonly dryRun: boolean;

  constructor(
    private readonly deps: CollectorOptions,
    private readonly options: CollectOptions,
    private readonly report: GcReport,
    private readonly check: () => void,
  ) {
    this.cutoff = deps.clock.now() - report.graceMs;
    this.dryRun = report.dryRun;
  }

  async all(): Promise<void> {
    if (!this.dryRun) await this.resume();
    if (this.deps.proxies) await this.proxies(this.deps.proxies);
    if (this.report.untagged) await this.manifests();
    if (!this.dryRun) await this.links();
    await this.blobs();
  }

  private progress(phase: GcPhase, scanned: number, collected: number): void {
    this.options.onProgress?.({ phase, scanned, collected });
  }

  /** Blobs marked by a run that was killed before it deleted them: their deletion was decided. */
  private async resume(): Promise<void> {
    let after = '';
    for (;;) {
      this.check();
      const page = await this.deps.gcIndex.deletingBlobs(after, PAGE);
      await this.deleteBytes(page);
      this.report.resumedBlobs += page.length;
      this.progress('resume', this.report.resumedBlobs, this.report.resumedBlobs);
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.digest;
    }
  }

  private async proxies(proxies: { index: ProxyIndex; idleMs: number }): Promise<void> {
    const before = this.deps.clock.now() - proxies.idleMs;
    let scanned = 0;
    for (;;) {
      this.check();
      const idle = await proxies.index.idleSince(before, PAGE);
      for (const { repository } of idle) {
        scanned++;
        this.report.proxyRepositories++;
        if (this.dryRun) continue;
        await this.deps.index.deleteRepository(repository);
        await proxies.index.forget(repository);
        await this.deps.manifestCache.invalidate(repository as RepositoryName);
      }
      this.progress('proxies', scanned, this.report.proxyRepositories);
      // a dry run removes nothing, so the same page would come back
      if (idle.length < PAGE || this.dryRun) return;
    }
  }

  /**
   * Untagged manifests, repository by repository. A candidate that another candidate still keeps
   * (the child of an untagged index, the referrer of an untagged manifest) waits for it: the
   * passes repeat until one deletes nothing.
   */
  private async manifests(): Promise<void> {
    const { gcIndex, clock } = this.deps;
    let scanned = 0;
    let after = '';
    for (;;) {
      this.check();
      const repositories = await gcIndex.repositoriesAfter(after, PAGE);
      for (const repository of repositories) {
        scanned++;
        let deleted = 0;
        for (let progress = true; progress; ) {
          progress = false;
          let last = '';
          for (;;) {
            this.check();
            const candidates = await gcIndex.untaggedManifests(repository, this.cutoff, last, PAGE);
            for (const digest of candidates) {
              if (this.dryRun) {
                this.report.manifests++;
                continue;
              }
              if (await gcIndex.deleteUntagged(repository, digest, this.cutoff, clock.now())) {
                this.report.manifests++;
                deleted++;
                progress = true;
              }
            }
            if (candidates.length < PAGE) break;
            last = candidates[candidates.length - 1]!;
          }
          if (this.dryRun) break;
        }
        if (deleted > 0) await this.deps.manifestCache.invalidate(repository as RepositoryName);
        this.progress('manifests', scanned, this.report.manifests);
      }
      if (repositories.length < PAGE) return;
      after = repositories[repositories.length - 1]!;
    }
  }

  private async links(): Promise<void> {
    const { gcIndex } = this.deps;
    let scanned = 0;
    let after: LinkKey | undefined;
    for (;;) {
      this.check();
      const page = await gcIndex.unreferencedLinks(after, this.cutoff, PAGE);
      scanned += page.length;
      await this.deps.hooks?.beforeUnlink?.(page);
      for (let i = 0; i < page.length; i += 100) this.report.links += await gcIndex.deleteUnreferencedLinks(page.slice(i, i + 100), this.cutoff);
      this.progress('links', scanned, this.report.links);
      if (page.length < PAGE) return;
      after = page[page.length - 1];
    }
  }

  private async blobs(): Promise<void> {
    const { gcIndex, clock } = this.deps;
    let scanned = 0;
    let after = '';
    for (;;) {
      this.check();
      const page = await gcIndex.unlinkedBlobs(after, this.cutoff, PAGE, this.dryRun);
      scanned += page.length;
      if (this.dryRun) {
        for (const blob of page) {
          this.report.blobs++;
          this.report.bytesFreed += blob.size;
        }
      } else {
        const marked = await gcIndex.markDeleting(
          page.map((b) => b.digest),
          this.cutoff,
          clock.now(),
        );
        await this.deps.hooks?.beforeSweep?.(marked.map((b) => b.digest));
        this.check();
        await this.deleteBytes(marked);
        this.report.blobs += marked.length;
      }
      this.progress('blobs', scanned, this.report.blobs);
      if (page.length < PAGE) return;
      after = page[page.length - 1]!.digest;
    }
  }

  /**
   * Bytes first (a few deletions at a time: a store's latency, S3's above all, is what costs), then
   * the rows: a run killed in between leaves rows marked, and the next finishes them.
   */
  private async deleteBytes(blobs: BlobKey[]): Promise<void> {
    for (let i = 0; i < blobs.length; i += DELETE_BATCH) {
      const batch = blobs.slice(i, i + DELETE_BATCH);
      await Promise.all(batch.map((blob) => this.deps.store.delete(blob.digest as Digest)));
      await this.deps.gcIndex.forgetDeleted(batch.map((b) => b.digest));
      for (const blob of batch) this.report.bytesFreed += blob.size;
    }
  }
}
