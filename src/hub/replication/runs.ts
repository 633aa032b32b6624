import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../../metadata/schema.js';
import type { Clock } from '../../registry/ports.js';
import type { CopyReport } from './copier.js';

export type RunTrigger = 'push' | 'schedule' | 'manual';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** What an event-driven run copies: tags and digests of one repository. */
export interface RunScope {
  repository: string;
  tags: string[];
  digests: string[];
}

export interface RunReport extends CopyReport {
  /** the errors of earlier attempts, each with its attempt number */
  previousErrors?: string[];
}

export interface ReplicationRun {
  id: string;
  rule: string;
  trigger: RunTrigger;
  /** null: everything the rule names */
  scope: RunScope | null;
  status: RunStatus;
  attempts: number;
  /** a queued run (a retry) waits until then */
  notBefore: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  manifestsCopied: number;
  blobsCopied: number;
  blobsSkipped: number;
  bytesCopied: number;
  report: RunReport | null;
  error: string | null;
}

type Row = Selectable<Database['replication_runs']>;

/**
 * The runs of replication rules: a queue in the database that every replica works on. A replica
 * claims a run with a conditional update (queued and due, or running with an expired claim: its
 * replica died) and renews the claim while it copies; the outcome is written only by the claim's
 * holder. A run that failed is queued again after a back-off until its attempts are spent.
 */
export class ReplicationRuns {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /**
   * Queues a run. A push that comes while a push-triggered run of the same rule and repository
   * still waits is merged into it (its tags and digests added), so a burst of pushes is one run.
   */
  async enqueue(rule: string, trigger: RunTrigger, scope: RunScope | null): Promise<ReplicationRun> {
    const now = this.clock.now();
    if (trigger === 'push' && scope) {
      const waiting = await this.db
        .selectFrom('replication_runs')
        .selectAll()
        .where('rule', '=', rule)
        .where('trigger', '=', 'push')
        .where('status', '=', 'queued')
        .where('attempts', '=', 0)
        .orderBy('created_at')
        .limit(20)
        .execute();
      for (const row of waiting) {
        const current = row.scope ? (JSON.parse(row.scope) as RunScope) : null;
        if (!current || current.repository !== scope.repository) continue;
        const merged: RunScope = {
          repository: scope.repository,
          tags: [...new Set([...current.tags, ...scope.tags])],
          digests: [...new Set([...current.digests, ...scope.digests])],
        };
        const result = await this.db
          .updateTable('replication_runs')
          .set({ scope: JSON.stringify(merged) })
          .where('id', '=', row.id)
          .where('status', '=', 'queued')
          .where('attempts', '=', 0)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) > 0) return toRun({ ...row, scope: JSON.stringify(merged) });
      }
    }
    const row: Row = {
      id: randomUUID(),
      rule,
      trigger,
      scope: scope ? JSON.stringify(scope) : null,
      status: 'queued',
      attempts: 0,
      not_before: now,
      claim: null,
      claimed_until: null,
      created_at: now,
      started_at: null,
      finished_at: null,
      manifests_copied: 0,
      blobs_copied: 0,
      blobs_skipped: 0,
      bytes_copied: 0,
      report: null,
      error: null,
    };
    await this.db.insertInto('replication_runs').values(row).execute();
    return toRun(row);
  }

  /** Runs that may be claimed now, oldest first. */
  async due(limit: number): Promise<string[]> {
    const now = this.clock.now();
    const rows = await this.db
      .selectFrom('replication_runs')
      .select('id')
      .where((eb) => eb.or([eb.and([eb('status', '=', 'queued'), eb('not_before', '<=', now)]), eb.and([eb('status', '=', 'running'), eb('claimed_until', '<', now)])]))
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Takes a run for `claim` until `until`; undefined when another replica has it (or it is not due). */
  async claim(id: string, claim: string, until: number): Promise<ReplicationRun | undefined> {
    const now = this.clock.now();
    const row = await this.db.selectFrom('replication_runs').select(['attempts', 'started_at']).where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const result = await this.db
      .updateTable('replication_runs')
      .set({ status: 'running', claim, claimed_until: until, attempts: Number(row.attempts) + 1, started_at: row.started_at ?? now })
      .where('id', '=', id)
      .where('attempts', '=', row.attempts)
      .where((eb) => eb.or([eb.and([eb('status', '=', 'queued'), eb('not_before', '<=', now)]), eb.and([eb('status', '=', 'running'), eb('claimed_until', '<', now)])]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.get(id);
  }

  async renew(id: string, claim: string, until: number): Promise<boolean> {
    const result = await this.db.updateTable('replication_runs').set({ claimed_until: until }).where('id', '=', id).where('claim', '=', claim).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Records the outcome (by the claim's holder only): done, or queued again at `retryAt`. */
  async finish(id: string, claim: string, outcome: { report: RunReport; error?: string; retryAt?: number }): Promise<void> {
    const now = this.clock.now();
    const { report } = outcome;
    const status: RunStatus = outcome.error === undefined ? 'succeeded' : outcome.retryAt !== undefined ? 'queued' : 'failed';
    await this.db
      .updateTable('replication_runs')
      .set({
        status,
        claim: null,
        claimed_until: null,
        not_before: outcome.retryAt ?? now,
        finished_at: status === 'queued' ? null : now,
        manifests_copied: report.manifestsCopied,
        blobs_copied: report.blobsCopied,
        blobs_skipped: report.blobsSkipped,
        bytes_copied: report.bytesCopied,
        report: JSON.stringify(report),
        error: outcome.error ?? null,
      })
      .where('id', '=', id)
      .where('claim', '=', claim)
      .execute();
  }

  async get(id: string): Promise<ReplicationRun | undefined> {
    const row = await this.db.selectFrom('replication_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRun(row);
  }

  /** Newest first; `rule` and `status` filter. */
  async page(filter: { rule?: string; status?: RunStatus; offset: number; limit: number }): Promise<{ count: number; runs: ReplicationRun[] }> {
    let query = this.db.selectFrom('replication_runs');
    if (filter.rule !== undefined) query = query.where('rule', '=', filter.rule);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await query.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
    return { count: Number(total?.n ?? 0), runs: rows.map(toRun) };
  }
}

function toRun(row: Row): ReplicationRun {
  return {
    id: row.id,
    rule: row.rule,
    trigger: row.trigger as RunTrigger,
    scope: row.scope ? (JSON.parse(row.scope) as RunScope) : null,
    status: row.status as RunStatus,
    attempts: Number(row.attempts),
    notBefore: Number(row.not_before),
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    manifestsCopied: Number(row.manifests_copied),
    blobsCopied: Number(row.blobs_copied),
    blobsSkipped: Number(row.blobs_skipped),
    bytesCopied: Number(row.bytes_copied),
    report: row.report ? (JSON.parse(row.report) as RunReport) : null,
    error: row.error,
  };
}
