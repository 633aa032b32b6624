import { z } from 'zod';
import type { ReplicationRule, RuleSettings } from '../../hub/replication/rules.js';
import type { ReplicationRun } from '../../hub/replication/runs.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { pageOf, paged, PageQuery, pageWindow } from './paging.js';
import { badRequest, notFound } from './problem.js';
import { answer, type ApiRouter } from './route.js';
import { listOf, OptionalTimestamp, Timestamp } from './schemas.js';

const Direction = z.enum(['push', 'pull']).meta({ description: 'push: repositories here to the registry at url; pull: from it into this registry' });

const RuleSchema = z
  .object({
    name: z.string(),
    direction: Direction,
    url: z.string(),
    username: z.string().nullable(),
    has_password: z.boolean(),
    repositories: z.array(z.string()).meta({ description: 'name patterns on the source side: alice/app, alice/*, team/**' }),
    tags: z.array(z.string()).nullable().meta({ description: 'tag patterns (v1.*); null: every tag' }),
    destination: z.string().meta({ description: 'a namespace prefix on the destination side; empty keeps the names' }),
    interval_seconds: z.number().int().nullable().meta({ description: 'a full run this often; null: push rules follow pushes, runs are started on demand' }),
    next_run_at: OptionalTimestamp,
    enabled: z.boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: 'ReplicationRule' });

const Item = z.object({
  reference: z.string().meta({ description: 'a tag, or a digest' }),
  digest: z.string().optional(),
  result: z.enum(['copied', 'unchanged', 'missing', 'failed']),
  referrers: z.number().int().optional().meta({ description: 'referrers (signatures, SBOMs) copied with it' }),
  error: z.string().optional(),
});

const ReportSchema = z
  .object({
    repositories: z.array(z.object({ source: z.string(), destination: z.string(), items: z.array(Item) })),
    manifests_copied: z.number().int(),
    manifests_skipped: z.number().int(),
    blobs_copied: z.number().int(),
    blobs_skipped: z.number().int(),
    blobs_mounted: z.number().int(),
    bytes_copied: z.number().int(),
    errors: z.array(z.string()),
    previous_errors: z.array(z.string()).meta({ description: 'the errors of earlier attempts' }),
  })
  .meta({ id: 'ReplicationReport' });

const RUN_FIELDS = {
  id: z.string(),
  rule: z.string(),
  trigger: z.enum(['push', 'schedule', 'manual']),
  scope: z.object({ repository: z.string(), tags: z.array(z.string()), digests: z.array(z.string()) }).nullable().meta({ description: 'what a push-triggered run copies; null: everything the rule names' }),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  attempts: z.number().int(),
  next_attempt_at: OptionalTimestamp.meta({ description: 'when a queued run (a retry) may start' }),
  created_at: Timestamp,
  started_at: OptionalTimestamp,
  finished_at: OptionalTimestamp,
  manifests_copied: z.number().int(),
  blobs_copied: z.number().int(),
  blobs_skipped: z.number().int(),
  bytes_copied: z.number().int(),
  error: z.string().nullable(),
};
const RunSchema = z.object(RUN_FIELDS).meta({ id: 'ReplicationRun' });
const RunDetail = z.object({ ...RUN_FIELDS, report: ReportSchema.nullable() }).meta({ id: 'ReplicationRunDetail' });

const Credentials = {
  username: z.string().min(1).max(255).nullish().meta({ description: 'with password; null (PATCH) removes the credentials' }),
  password: z.string().min(1).max(4096).optional(),
};
const IntervalSeconds = z.number().int().min(60).nullable();

const CreateRule = z.strictObject({
  name: z.string(),
  direction: Direction,
  url: z.string(),
  ...Credentials,
  repositories: z.array(z.string()),
  tags: z.array(z.string()).nullish(),
  destination: z.string().optional(),
  interval_seconds: IntervalSeconds.optional(),
  enabled: z.boolean().optional(),
});

const UpdateRule = z
  .strictObject({
    direction: Direction.optional(),
    url: z.string().optional(),
    ...Credentials,
    repositories: z.array(z.string()).optional(),
    tags: z.array(z.string()).nullish(),
    destination: z.string().optional(),
    interval_seconds: IntervalSeconds.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((value) => value !== undefined), { message: 'nothing to change' });

const RulePath = z.object({ name: z.string() });
const RunPath = z.object({ id: z.string() });
const RunsQuery = PageQuery.extend({
  rule: z.string().optional().meta({ description: 'the runs of this rule' }),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']).optional(),
});

/** Replication rules and their runs: for administrators. */
export function registerReplication(router: ApiRouter, ctx: ApiContext): void {
  const service = ctx.replication;
  if (!service) return;
  const replication = () => service;
  const tags = ['replication'];

  router.route({
    method: 'GET',
    path: '/replication/rules',
    summary: 'List the replication rules',
    tags,
    auth: 'admin',
    responses: { 200: listOf(RuleSchema) },
    handler: async () => {
      const results = (await replication().rules.list()).map(ruleJson);
      return { count: results.length, results };
    },
  });

  router.route({
    method: 'POST',
    path: '/replication/rules',
    summary: 'Add a replication rule',
    description: 'A push rule copies every push to a matching repository to the other registry; a pull rule copies from it on its schedule; either runs on demand.',
    tags,
    auth: 'admin',
    body: CreateRule,
    responses: { 201: RuleSchema },
    problems: ['conflict'],
    handler: async ({ request, caller, body }) => {
      const rule = await replication().rules.create(body.name, { ...settingsOf(body), direction: body.direction, url: body.url, repositories: body.repositories });
      request.log.info({ rule: rule.name, direction: rule.direction, url: rule.url, by: caller.account.name }, 'replication rule added');
      return ruleJson(rule);
    },
  });

  router.route({
    method: 'GET',
    path: '/replication/rules/{name}',
    summary: 'A replication rule',
    tags,
    auth: 'admin',
    params: RulePath,
    responses: { 200: RuleSchema },
    problems: ['not-found'],
    handler: async ({ params }) => {
      const rule = await replication().rules.get(params.name);
      if (!rule) throw notFound(`no replication rule "${params.name}"`);
      return ruleJson(rule);
    },
  });

  router.route({
    method: 'PATCH',
    path: '/replication/rules/{name}',
    summary: 'Change a replication rule',
    tags,
    auth: 'admin',
    params: RulePath,
    body: UpdateRule,
    responses: { 200: RuleSchema },
    problems: ['not-found'],
    handler: async ({ params, body }) => ruleJson(await replication().rules.update(params.name, settingsOf(body))),
  });

  router.route({
    method: 'DELETE',
    path: '/replication/rules/{name}',
    summary: 'Remove a replication rule (its runs stay in the history)',
    tags,
    auth: 'admin',
    params: RulePath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ params }) => {
      await replication().rules.remove(params.name);
      return answer(204);
    },
  });

  router.route({
    method: 'POST',
    path: '/replication/rules/{name}/runs',
    summary: 'Run a replication rule now',
    description: 'Queues a run of everything the rule names; a server starts it at once. Follow it at /replication/runs/{id}.',
    tags,
    auth: 'admin',
    params: RulePath,
    responses: { 202: RunSchema },
    problems: ['not-found'],
    handler: async ({ params }) => runJson(await replication().request(params.name)),
  });

  router.route({
    method: 'GET',
    path: '/replication/runs',
    summary: 'The runs of replication rules, newest first',
    tags,
    auth: 'admin',
    query: RunsQuery,
    responses: { 200: paged(RunSchema) },
    handler: async ({ request, query }) => {
      const { offset, limit } = pageWindow(query);
      const { count, runs } = await replication().runs.page({ offset, limit, ...(query.rule ? { rule: query.rule } : {}), ...(query.status ? { status: query.status } : {}) });
      return pageOf(request, query, count, runs.map(runJson));
    },
  });

  router.route({
    method: 'GET',
    path: '/replication/runs/{id}',
    summary: 'A replication run, with what it copied',
    tags,
    auth: 'admin',
    params: RunPath,
    responses: { 200: RunDetail },
    problems: ['not-found'],
    handler: async ({ params }) => {
      const run = await replication().runs.get(params.id);
      if (!run) throw notFound(`no replication run "${params.id}"`);
      return { ...runJson(run), report: run.report && reportJson(run.report) };
    },
  });
}

function settingsOf(body: z.output<typeof UpdateRule>): RuleSettings {
  const settings: RuleSettings = {};
  if (body.direction !== undefined) settings.direction = body.direction;
  if (body.url !== undefined) settings.url = body.url;
  if (body.repositories !== undefined) settings.repositories = body.repositories;
  if (body.tags !== undefined) settings.tags = body.tags;
  if (body.destination !== undefined) settings.destination = body.destination;
  if (body.interval_seconds !== undefined) settings.intervalMs = body.interval_seconds === null ? null : body.interval_seconds * 1000;
  if (body.enabled !== undefined) settings.enabled = body.enabled;
  if (body.username === null) settings.credentials = null;
  else if (body.username !== undefined || body.password !== undefined) {
    if (body.username === undefined || body.password === undefined) {
      const field = body.username === undefined ? 'username' : 'password';
      throw badRequest(`${field}: credentials of the other registry are a username and a password, both`, [{ field, message: 'give both username and password' }]);
    }
    settings.credentials = { username: body.username, password: body.password };
  }
  return settings;
}

function ruleJson(rule: ReplicationRule): z.output<typeof RuleSchema> {
  return {
    name: rule.name,
    direction: rule.direction,
    url: rule.url,
    username: rule.username,
    has_password: rule.hasPassword,
    repositories: rule.repositories,
    tags: rule.tags,
    destination: rule.destination,
    interval_seconds: rule.intervalMs === null ? null : Math.round(rule.intervalMs / 1000),
    next_run_at: iso(rule.nextRunAt),
    enabled: rule.enabled,
    created_at: iso(rule.createdAt)!,
    updated_at: iso(rule.updatedAt)!,
  };
}

function runJson(run: ReplicationRun): z.output<typeof RunSchema> {
  return {
    id: run.id,
    rule: run.rule,
    trigger: run.trigger,
    scope: run.scope,
    status: run.status,
    attempts: run.attempts,
    next_attempt_at: run.status === 'queued' ? iso(run.notBefore) : null,
    created_at: iso(run.createdAt)!,
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    manifests_copied: run.manifestsCopied,
    blobs_copied: run.blobsCopied,
    blobs_skipped: run.blobsSkipped,
    bytes_copied: run.bytesCopied,
    error: run.error,
  };
}

function reportJson(report: NonNullable<ReplicationRun['report']>): z.output<typeof ReportSchema> {
  return {
    repositories: report.repositories,
    manifests_copied: report.manifestsCopied,
    manifests_skipped: report.manifestsSkipped,
    blobs_copied: report.blobsCopied,
    blobs_skipped: report.blobsSkipped,
    blobs_mounted: report.blobsMounted,
    bytes_copied: report.bytesCopied,
    errors: report.errors,
    previous_errors: report.previousErrors ?? [],
  };
}
