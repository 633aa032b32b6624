import { z } from 'zod';
import type { RepositoryRunReport, RetentionPolicy, RetentionScope, RunReport } from '../../hub/retention/retention.js';
import { MAX_KEEP_LAST, MAX_KEEP_PULLED_DAYS, type RetentionRules } from '../../hub/retention/selection.js';
import { patternProblem } from '../../hub/tag-immutability.js';
import type { Caller } from './authenticate.js';
import type { ApiContext } from './context.js';
import { existing, mayView, NamespacePath } from './namespaces.js';
import { forbidden, notFound } from './problem.js';
import { administered } from './repositories.js';
import { RepositoryPath } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';

const PolicySchema = z
  .object({
    keep_last: z.number().int().nullable().meta({ description: 'keep the N most recently pushed tags' }),
    keep_pulled_days: z.number().int().nullable().meta({ description: 'keep tags pulled (or pushed) within D days; a tag never pulled counts from its push' }),
    keep_pattern: z.string().nullable().meta({ description: 'keep tags matching a glob (`v*`) or a regular expression between slashes, as immutable tag rules' }),
  })
  .meta({ id: 'RetentionPolicy' });

const RetentionSchema = z
  .object({
    policy: PolicySchema.nullable().meta({ description: 'the policy set here (null: none)' }),
    inherited_from: z.enum(['namespace']).nullable().meta({ description: 'a repository without a policy of its own: "namespace" when its namespace’s applies' }),
    effective: PolicySchema.nullable().meta({ description: 'the policy that applies: this one, else the namespace’s' }),
  })
  .meta({ id: 'Retention' });

const SetPolicy = z
  .strictObject({
    keep_last: z.number().int().min(1).max(MAX_KEEP_LAST).nullable().optional(),
    keep_pulled_days: z.number().int().min(1).max(MAX_KEEP_PULLED_DAYS).nullable().optional(),
    keep_pattern: z
      .string()
      .min(1)
      .max(200)
      // at the edge, so that a bad pattern is said under its field (the hub checks it again for the CLI)
      .superRefine((pattern, issues) => {
        const problem = patternProblem(pattern);
        if (problem) issues.addIssue({ code: 'custom', message: problem });
      })
      .nullable()
      .optional()
      .describe('a glob (`v*`, `release-?`) matching the whole tag, or a regular expression between slashes'),
  })
  .meta({ description: 'replaces the whole policy; at least one rule. A tag stays when any rule keeps it' });

const RunQuery = z.object({
  dry_run: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .meta({ description: 'true: report what would go, change nothing' }),
});

const RepositoryRunSchema = z
  .object({
    dry_run: z.boolean(),
    repository: z.string(),
    policy_from: z.enum(['repository', 'namespace']),
    deleted: z.array(z.object({ tag: z.string(), digest: z.string(), reason: z.string() })).meta({ description: 'in a dry run: that would be deleted; newest push first' }),
    kept: z
      .array(
        z.object({
          tag: z.string(),
          digest: z.string(),
          rule: z.enum(['immutable', 'keep_last', 'keep_pulled_days', 'keep_pattern', 'changed']).meta({ description: 'the first rule that keeps it; changed: pushed again or deleted during the run' }),
          reason: z.string(),
        }),
      )
      .meta({ description: 'newest push first' }),
  })
  .meta({ id: 'RetentionRun' });

const NamespaceRunSchema = z
  .object({
    dry_run: z.boolean(),
    repositories: z.array(RepositoryRunSchema).meta({ description: 'each repository of the namespace under a policy (its own or the namespace’s), by name' }),
  })
  .meta({ id: 'NamespaceRetentionRun' });

function policyJson(policy: RetentionPolicy | undefined): z.output<typeof PolicySchema> | null {
  return policy ? { keep_last: policy.keepLast, keep_pulled_days: policy.keepPulledDays, keep_pattern: policy.keepPattern } : null;
}

function rulesOf(body: z.output<typeof SetPolicy>): RetentionRules {
  return { keepLast: body.keep_last ?? null, keepPulledDays: body.keep_pulled_days ?? null, keepPattern: body.keep_pattern ?? null };
}

function repositoryRunJson(dryRun: boolean, r: RepositoryRunReport): z.output<typeof RepositoryRunSchema> {
  return { dry_run: dryRun, repository: r.repository, policy_from: r.policyFrom, deleted: r.deleted, kept: r.kept };
}

const repoWho = 'The repository’s administrators (its owner, an owner of its organisation, a team with admin on it, an administrator; a token needs repo:admin).';
const nsWho = 'The account itself, the owners of the organisation, administrators (a token needs repo:admin to change or run).';
const feature = 'A plan feature (retention-policies): setting a policy and running one are refused without it.';

/**
 * Retention policies (docs/retention.md): per repository or namespace, the rules that keep tags;
 * a run deletes the others (a dry run says what it would), each deletion with its reason.
 */
export function registerRetention(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;
  const repoBase = '/repositories/{namespace}/{name}/retention';
  const nsBase = '/namespaces/{namespace}/retention';

  const repositoryRetention = async (name: string) => {
    const { own, effective } = await hub.retention.ofRepository(name);
    return { policy: policyJson(own), inherited_from: !own && effective ? ('namespace' as const) : null, effective: policyJson(effective) };
  };
  const namespaceRetention = async (namespace: string) => {
    const policy = policyJson(await hub.retention.get('namespace', namespace));
    return { policy, inherited_from: null, effective: policy };
  };
  /** The namespace of the path, when the caller may read (or, `change`, change) its policy. */
  const ownedNamespace = async (caller: Caller, raw: string, change: boolean) => {
    const namespace = await existing(ctx, raw);
    if (!(await mayView(ctx, caller, namespace))) throw forbidden(`only ${namespace} itself, an owner of the organisation or an administrator may manage its retention policy`);
    if (change && caller.tokenScopes && !caller.tokenScopes.includes('repo:admin')) throw forbidden('this needs a token with the repo:admin scope');
    return namespace;
  };
  const unset = async (scope: RetentionScope, target: string) => {
    if (!(await hub.retention.unset(scope, target))) throw notFound(`${target} has no retention policy of its own`);
  };

  router.route({
    method: 'GET',
    path: repoBase,
    summary: 'A repository’s retention policy: its own, and the one that applies',
    description: repoWho,
    tags: ['retention'],
    auth: 'signed-in',
    params: RepositoryPath,
    responses: { 200: RetentionSchema },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params }) => repositoryRetention(await administered(ctx, caller, params)),
  });

  router.route({
    method: 'PUT',
    path: repoBase,
    summary: 'Set a repository’s retention policy',
    description: `${repoWho} ${feature} It replaces the namespace’s for this repository.`,
    tags: ['retention'],
    auth: 'signed-in',
    params: RepositoryPath,
    body: SetPolicy,
    responses: { 200: RetentionSchema },
    problems: ['not-found', 'forbidden', 'plan-limit', 'validation'],
    handler: async ({ caller, params, body, request }) => {
      const name = await administered(ctx, caller, params);
      await hub.retention.set('repository', name, rulesOf(body), caller.account.name);
      request.log.info({ repository: name, policy: body, by: caller.account.name }, 'retention policy set');
      return repositoryRetention(name);
    },
  });

  router.route({
    method: 'DELETE',
    path: repoBase,
    summary: 'Remove a repository’s own retention policy (its namespace’s applies again, if any)',
    description: repoWho,
    tags: ['retention'],
    auth: 'signed-in',
    params: RepositoryPath,
    responses: { 204: null },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params }) => {
      await unset('repository', await administered(ctx, caller, params));
      return answer(204);
    },
  });

  router.route({
    method: 'POST',
    path: `${repoBase}/run`,
    summary: 'Apply the retention policy to a repository now (or, dry, say what it would delete)',
    description: `${repoWho} ${feature} Each tag no rule keeps is deleted as by DELETE …/tags/{tag} (a tag.deleted event with the reason, an audit entry); immutable tags stay. 409 when no policy applies, or while another run goes on.`,
    tags: ['retention'],
    auth: 'signed-in',
    params: RepositoryPath,
    query: RunQuery,
    responses: { 200: RepositoryRunSchema },
    problems: ['not-found', 'forbidden', 'plan-limit', 'conflict'],
    handler: async ({ caller, params, query }) => {
      const name = await administered(ctx, caller, params);
      const report = await hub.retention.run(name, ctx.registry, { dryRun: query.dry_run, trigger: 'api', by: caller.account.name });
      return repositoryRunJson(report.dryRun, report.repositories[0]!);
    },
  });

  router.route({
    method: 'GET',
    path: nsBase,
    summary: 'A namespace’s retention policy (for each of its repositories without one of their own)',
    description: nsWho,
    tags: ['retention', 'namespaces'],
    auth: 'signed-in',
    params: NamespacePath,
    responses: { 200: RetentionSchema },
    problems: ['not-found', 'forbidden', 'validation'],
    handler: async ({ caller, params }) => namespaceRetention(await ownedNamespace(caller, params.namespace, false)),
  });

  router.route({
    method: 'PUT',
    path: nsBase,
    summary: 'Set a namespace’s retention policy',
    description: `${nsWho} ${feature} It applies to each repository of the namespace that has no policy of its own.`,
    tags: ['retention', 'namespaces'],
    auth: 'signed-in',
    params: NamespacePath,
    body: SetPolicy,
    responses: { 200: RetentionSchema },
    problems: ['not-found', 'forbidden', 'plan-limit', 'validation'],
    handler: async ({ caller, params, body, request }) => {
      const namespace = await ownedNamespace(caller, params.namespace, true);
      await hub.retention.set('namespace', namespace, rulesOf(body), caller.account.name);
      request.log.info({ namespace, policy: body, by: caller.account.name }, 'retention policy set');
      return namespaceRetention(namespace);
    },
  });

  router.route({
    method: 'DELETE',
    path: nsBase,
    summary: 'Remove a namespace’s retention policy',
    description: nsWho,
    tags: ['retention', 'namespaces'],
    auth: 'signed-in',
    params: NamespacePath,
    responses: { 204: null },
    problems: ['not-found', 'forbidden', 'validation'],
    handler: async ({ caller, params }) => {
      await unset('namespace', await ownedNamespace(caller, params.namespace, true));
      return answer(204);
    },
  });

  router.route({
    method: 'POST',
    path: `${nsBase}/run`,
    summary: 'Apply the retention policies of a namespace’s repositories now (or, dry, say what they would delete)',
    description: `${nsWho} ${feature} Each repository under a policy (its own, else the namespace’s), by name. 409 while another run goes on.`,
    tags: ['retention', 'namespaces'],
    auth: 'signed-in',
    params: NamespacePath,
    query: RunQuery,
    responses: { 200: NamespaceRunSchema },
    problems: ['not-found', 'forbidden', 'plan-limit', 'conflict', 'validation'],
    handler: async ({ caller, params, query }) => {
      const namespace = await ownedNamespace(caller, params.namespace, true);
      const report: RunReport = await hub.retention.run(namespace, ctx.registry, { dryRun: query.dry_run, trigger: 'api', by: caller.account.name });
      return { dry_run: report.dryRun, repositories: report.repositories.map((r) => repositoryRunJson(report.dryRun, r)) };
    },
  });
}
