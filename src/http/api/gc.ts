import { z } from 'zod';
import { CollectorBusy, type GcReport } from '../../registry/gc/collector.js';
import type { GcRunRecord } from '../../metadata/gc-index.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { conflict } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf } from './schemas.js';

const ReportSchema = z
  .object({
    run_id: z.string(),
    dry_run: z.boolean(),
    untagged: z.boolean(),
    grace_seconds: z.number(),
    blobs_deleted: z.number().int().meta({ description: 'in a dry run: that would be deleted' }),
    bytes_freed: z.number().int().meta({ description: 'in a dry run: that would be freed (a lower bound with untagged)' }),
    manifests_deleted: z.number().int(),
    links_removed: z.number().int(),
    proxy_repositories_deleted: z.number().int(),
    resumed_blobs: z.number().int().meta({ description: 'deletions an interrupted run had started, finished by this one' }),
    started_at: z.string(),
    duration_ms: z.number().int(),
  })
  .meta({ id: 'GcReport' });

const RunSchema = z
  .object({
    id: z.string(),
    trigger: z.string(),
    status: z.enum(['running', 'succeeded', 'failed']),
    dry_run: z.boolean(),
    untagged: z.boolean(),
    grace_seconds: z.number(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    report: ReportSchema.nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'GcRun' });

const CollectBody = z.strictObject({
  dry_run: z.boolean().optional(),
  untagged: z.boolean().optional().meta({ description: 'also delete manifests that no tag keeps' }),
  grace_seconds: z.number().int().min(0).max(365 * 86_400).optional().meta({ description: 'nothing younger is deleted (default: the gc.grace setting, one hour)' }),
});

function reportJson(report: GcReport): z.infer<typeof ReportSchema> {
  return {
    run_id: report.runId,
    dry_run: report.dryRun,
    untagged: report.untagged,
    grace_seconds: report.graceMs / 1000,
    blobs_deleted: report.blobs,
    bytes_freed: report.bytesFreed,
    manifests_deleted: report.manifests,
    links_removed: report.links,
    proxy_repositories_deleted: report.proxyRepositories,
    resumed_blobs: report.resumedBlobs,
    started_at: iso(report.startedAt)!,
    duration_ms: report.durationMs,
  };
}

function runJson(run: GcRunRecord): z.infer<typeof RunSchema> {
  return {
    id: run.id,
    trigger: run.trigger,
    status: run.status,
    dry_run: run.dryRun,
    untagged: run.untagged,
    grace_seconds: run.graceMs / 1000,
    started_at: iso(run.startedAt)!,
    finished_at: iso(run.finishedAt),
    report: run.report ? reportJson(run.report as unknown as GcReport) : null,
    error: run.error,
  };
}

/** Garbage collection on demand and its history (docs/garbage-collection.md): for administrators. */
export function registerGc(router: ApiRouter, ctx: ApiContext): void {
  const gc = ctx.registry.gc;
  if (!gc) return;
  const tags = ['administration'];

  router.route({
    method: 'POST',
    path: '/admin/gc',
    summary: 'Collect garbage now',
    description:
      'Runs the online garbage collector and answers its report when it has finished; pushes and pulls go on meanwhile. One collection runs at a time across replicas: another one running answers 409.',
    tags,
    auth: 'admin',
    body: CollectBody,
    responses: { 200: ReportSchema },
    problems: ['conflict'],
    handler: async ({ request, caller, body }) => {
      try {
        const report = await gc.collect({
          dryRun: body.dry_run === true,
          untagged: body.untagged === true,
          ...(body.grace_seconds !== undefined ? { graceMs: body.grace_seconds * 1000 } : {}),
          trigger: 'api',
        });
        request.log.info({ gc: report, by: caller.account.name }, 'garbage collection');
        return reportJson(report);
      } catch (error) {
        if (error instanceof CollectorBusy) throw conflict(error.message);
        throw error;
      }
    },
  });

  router.route({
    method: 'GET',
    path: '/admin/gc/runs',
    summary: 'The latest garbage collections',
    tags,
    auth: 'admin',
    responses: { 200: listOf(RunSchema) },
    handler: async () => {
      const results = (await gc.runs(20)).map(runJson);
      return { count: results.length, results };
    },
  });
}
