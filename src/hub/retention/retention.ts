import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Leases } from '../../metadata/leases.js';
import type { Database, RetentionPoliciesTable } from '../../metadata/schema.js';
import { namespaceOf, namespaceRange, type RepositoryName } from '../../oci/names.js';
import { OciError } from '../../oci/errors.js';
import type { Clock } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';
import type { AuditLog } from '../audit.js';
import { HubError } from '../errors.js';
import type { PlanService } from '../plans.js';
import type { PullStats } from '../pull-stats.js';
import type { TagImmutability } from '../tag-immutability.js';
import { rulesProblem, selectTags, type DeletedTag, type KeptTag, type RetentionRules } from './selection.js';

export type RetentionScope = 'repository' | 'namespace';

export interface RetentionPolicy extends RetentionRules {
  scope: RetentionScope;
  /** a repository's name, or a namespace */
  target: string;
  updatedAt: number;
  updatedBy: string | null;
}

/** A repository's policy: its own, and the one that applies (its own, else its namespace's). */
export interface RepositoryRetention {
  own: RetentionPolicy | undefined;
  effective: RetentionPolicy | undefined;
}

export type RetentionTrigger = 'schedule' | 'cli' | 'api';

export interface RunOptions {
  dryRun?: boolean;
  trigger: RetentionTrigger;
  /** who asked (an account; none for the schedule and the CLI) */
  by?: string;
  /** the schedule skips namespaces whose plan lacks the feature; a run asked for by hand is refused (plan_limit) */
  skipWithoutFeature?: boolean;
  signal?: AbortSignal;
}

/** What a run did (or, dry, would do) to one repository. */
export interface RepositoryRunReport {
  repository: string;
  policyFrom: RetentionScope;
  deleted: DeletedTag[];
  kept: KeptTag[];
}

export interface RunReport {
  dryRun: boolean;
  repositories: RepositoryRunReport[];
  /** repositories with a policy that were not run: their plan lacks the feature (schedule only) */
  skipped: string[];
}

/** Another run holds the lease (on this replica or another): one applies at a time. */
export class RetentionBusy extends HubError {
  constructor() {
    super('conflict', 'a retention run is going on already (on this or another replica); try again when it has finished');
  }
}

/** What a run decided for a repository, and the push date of each tag it saw (a deletion requires it unchanged). */
interface Planned {
  report: RepositoryRunReport;
  pushedAt: Map<string, number>;
}

const isRepository = (scope: string) => scope.includes('/');

const FEATURE = 'retention-policies';
const LEASE = 'retention';
/** the scope of a run over every repository with a policy (what the schedule runs) */
export const EVERYTHING = '*';

/**
 * Retention policies (docs/retention.md): per repository or per namespace, rules that keep tags;
 * a run deletes each tag that no rule keeps, through the registry's own tag deletion (so each
 * deletion writes its 'tag.deleted' outbox event, for webhooks), and records it in the audit log
 * (via 'retention', with the reason). Tags matching an immutable tag rule are never deleted.
 * A plan feature ('retention-policies'), checked where a policy is set and where it applies.
 * Non-dry runs hold the 'retention' lease: one at a time across replicas.
 */
export class RetentionService {
  readonly #leases: Leases;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly deps: { clock: Clock; plans: PlanService; immutability: TagImmutability; audit: AuditLog; pullStats: PullStats; leaseMs?: number },
  ) {
    this.#leases = new Leases(db);
  }

  async get(scope: RetentionScope, target: string): Promise<RetentionPolicy | undefined> {
    const row = await this.db.selectFrom('retention_policies').selectAll().where('scope', '=', scope).where('target', '=', target).executeTakeFirst();
    return row && policyOf(row);
  }

  /** A repository's own policy and the one that applies to it. */
  async ofRepository(repository: string): Promise<RepositoryRetention> {
    const own = await this.get('repository', repository);
    return { own, effective: own ?? (await this.get('namespace', namespaceOf(repository))) };
  }

  /** Sets (replaces) a policy; refused without a rule, with a bad one, or without the plan feature. */
  async set(scope: RetentionScope, target: string, rules: RetentionRules, by: string | null): Promise<RetentionPolicy> {
    const problem = rulesProblem(rules);
    if (problem) throw new HubError('invalid', problem);
    await this.deps.plans.requireFeature(scope === 'namespace' ? target : namespaceOf(target), FEATURE, 'a retention policy');
    const row = {
      scope,
      target,
      keep_last: rules.keepLast,
      keep_pulled_days: rules.keepPulledDays,
      keep_pattern: rules.keepPattern,
      updated_at: this.deps.clock.now(),
      updated_by: by,
    };
    await this.db
      .insertInto('retention_policies')
      .values(row)
      .onConflict((oc) => oc.columns(['scope', 'target']).doUpdateSet({ keep_last: row.keep_last, keep_pulled_days: row.keep_pulled_days, keep_pattern: row.keep_pattern, updated_at: row.updated_at, updated_by: by }))
      .execute();
    return policyOf(row);
  }

  /** Removes a policy; false when there was none. */
  async unset(scope: RetentionScope, target: string): Promise<boolean> {
    const result = await this.db.deleteFrom('retention_policies').where('scope', '=', scope).where('target', '=', target).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** When the latest run over everything started (any replica): the schedule counts from there. */
  async lastRunStartedAt(): Promise<number | undefined> {
    const row = await this.db.selectFrom('retention_runs').select(({ fn }) => fn.max('started_at').as('last')).where('scope', '=', EVERYTHING).executeTakeFirst();
    return row?.last === null || row?.last === undefined ? undefined : Number(row.last);
  }

  /**
   * Applies the policies (or, dry, says what they would do) to `scope`: a repository, a
   * namespace's repositories, or every repository with a policy ('*'). Repositories in name order.
   */
  async run(scope: string, registry: Registry, options: RunOptions): Promise<RunReport> {
    const dryRun = options.dryRun ?? false;
    const repositories = await this.#repositoriesOf(scope);
    // a namespace, or everything, may have no repository under a policy: nothing to do
    if (isRepository(scope) && repositories.length === 0) throw new HubError('conflict', `no retention policy applies to ${scope}: set one on it or on its namespace`);
    const report: RunReport = { dryRun, repositories: [], skipped: [] };
    const features = new Map<string, boolean>();
    const runnable: Array<{ repository: string; policy: RetentionPolicy }> = [];
    for (const entry of repositories) {
      const namespace = namespaceOf(entry.repository);
      if (!features.has(namespace)) features.set(namespace, await this.deps.plans.hasFeature(namespace, FEATURE));
      if (features.get(namespace)) runnable.push(entry);
      else if (options.skipWithoutFeature) report.skipped.push(entry.repository);
      else await this.deps.plans.requireFeature(namespace, FEATURE, 'a retention run');
    }
    // pulls counted on this replica are written first: "pulled within D days" sees them
    await this.deps.pullStats.flush().catch(() => {});
    if (dryRun) {
      for (const { repository, policy } of runnable) report.repositories.push((await this.#plan(repository, policy)).report);
      return report;
    }
    const runId = randomUUID();
    const clock = this.deps.clock;
    const lease = await this.#leases.hold(LEASE, runId, { now: () => clock.now(), leaseMs: this.deps.leaseMs ?? 60_000 });
    if (!lease) throw new RetentionBusy();
    let deleted = 0;
    try {
      await this.db.insertInto('retention_runs').values({ id: runId, trigger: options.trigger, scope, status: 'running', started_at: clock.now(), finished_at: null, deleted: 0, error: null }).execute();
      for (const { repository, policy } of runnable) {
        if (options.signal?.aborted) throw new Error('the retention run was stopped; the next run continues it');
        if (lease.lost()) throw new Error('the retention run lost its lease (the database did not answer for too long); run it again');
        const done = await this.#apply(await this.#plan(repository, policy), registry, { runId, trigger: options.trigger, by: options.by });
        report.repositories.push(done);
        deleted += done.deleted.length;
      }
      await this.#finish(runId, 'succeeded', deleted);
      return report;
    } catch (error) {
      await this.#finish(runId, 'failed', deleted, (error as Error).message).catch(() => {});
      throw error;
    } finally {
      await lease.release();
    }
  }

  async #finish(id: string, status: 'succeeded' | 'failed', deleted: number, error?: string): Promise<void> {
    await this.db.updateTable('retention_runs').set({ status, finished_at: this.deps.clock.now(), deleted, error: error ?? null }).where('id', '=', id).execute();
  }

  /** The repositories of `scope` under a policy, with the policy that applies to each. */
  async #repositoriesOf(scope: string): Promise<Array<{ repository: string; policy: RetentionPolicy }>> {
    const everything = scope === EVERYTHING;
    const namespace = everything ? undefined : isRepository(scope) ? namespaceOf(scope) : scope;
    // repositories with a policy of their own (that exist: a policy goes with its repository)
    const own = (
      await this.db
        .selectFrom('retention_policies as p')
        .innerJoin('repositories as r', 'r.name', 'p.target')
        .selectAll('p')
        .where('p.scope', '=', 'repository')
        .$if(!everything && isRepository(scope), (q) => q.where('p.target', '=', scope))
        .$if(!everything && !isRepository(scope), (q) => q.where('p.target', '>=', namespaceRange(scope).from).where('p.target', '<', namespaceRange(scope).to))
        .execute()
    ).map(policyOf);
    const inherited = (
      await this.db
        .selectFrom('retention_policies')
        .selectAll()
        .where('scope', '=', 'namespace')
        .$if(namespace !== undefined, (q) => q.where('target', '=', namespace!))
        .execute()
    ).map(policyOf);
    const chosen = new Map<string, RetentionPolicy>();
    for (const namespacePolicy of inherited) {
      const { from, to } = namespaceRange(namespacePolicy.target);
      const names = await this.db
        .selectFrom('repositories')
        .select('name')
        .where('name', '>=', from)
        .where('name', '<', to)
        .$if(!everything && isRepository(scope), (q) => q.where('name', '=', scope))
        .execute();
      for (const { name } of names) chosen.set(name, namespacePolicy);
    }
    for (const policy of own) if (namespace === undefined || namespaceOf(policy.target) === namespace) chosen.set(policy.target, policy);
    return [...chosen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([repository, policy]) => ({ repository, policy }));
  }

  /** What the policy keeps and deletes in one repository now. */
  async #plan(repository: string, policy: RetentionPolicy): Promise<Planned> {
    const rows = await this.db
      .selectFrom('tags as t')
      .leftJoin('tag_pulls as p', (join) => join.onRef('p.repository', '=', 't.repository').onRef('p.tag', '=', 't.name'))
      .select(['t.name', 't.digest', 't.updated_at', 'p.last_pulled_at'])
      .where('t.repository', '=', repository)
      .execute();
    const tags = rows.map((r) => ({ tag: r.name, digest: r.digest, pushedAt: Number(r.updated_at), lastPulledAt: r.last_pulled_at === null ? null : Number(r.last_pulled_at) }));
    // immutable tags stay whatever the plan says of immutability: a rule is the owner's word
    const immutable = (await this.deps.immutability.list(repository)).map((r) => r.pattern);
    const selection = selectTags(tags, policy, immutable, this.deps.clock.now());
    return { report: { repository, policyFrom: policy.scope, ...selection }, pushedAt: new Map(tags.map((t) => [t.tag, t.pushedAt])) };
  }

  /**
   * Deletes what was planned, each tag only while it is as it was planned (a tag pushed again
   * meanwhile stays, as 'changed'), through the registry's deletion, with an audit entry each.
   */
  async #apply(
    planned: Planned,
    registry: Registry,
    run: { runId: string; trigger: RetentionTrigger; by: string | undefined },
  ): Promise<RepositoryRunReport> {
    const { repository, policyFrom } = planned.report;
    const done: RepositoryRunReport = { repository, policyFrom, deleted: [], kept: [...planned.report.kept] };
    const policyOfWhat = policyFrom === 'namespace' ? `the retention policy of ${namespaceOf(repository)}` : `the retention policy of ${repository}`;
    for (const tag of planned.report.deleted) {
      const reason = `${policyOfWhat}: ${tag.reason}`;
      try {
        await registry.manifests.delete(repository as RepositoryName, tag.tag, {}, { reason, ifUnchanged: { digest: tag.digest, updatedAt: planned.pushedAt.get(tag.tag)! } });
      } catch (error) {
        if (error instanceof OciError && error.code === 'MANIFEST_UNKNOWN') {
          done.kept.push({ tag: tag.tag, digest: tag.digest, rule: 'changed', reason: 'pushed again or deleted during the run' });
          continue;
        }
        if (error instanceof OciError && error.code === 'DENIED') {
          done.kept.push({ tag: tag.tag, digest: tag.digest, rule: 'immutable', reason: error.message });
          continue;
        }
        throw error;
      }
      done.deleted.push(tag);
      await this.deps.audit.record({
        action: 'tag.deleted',
        actor: null,
        via: 'retention',
        target: `${repository}:${tag.tag}`,
        namespace: namespaceOf(repository),
        result: 'ok',
        details: { digest: tag.digest, reason, policy: policyFrom, trigger: run.trigger, run: run.runId, ...(run.by !== undefined ? { by: run.by } : {}) },
      });
    }
    return done;
  }
}

function policyOf(row: RetentionPoliciesTable): RetentionPolicy {
  return {
    scope: row.scope,
    target: row.target,
    keepLast: row.keep_last === null ? null : Number(row.keep_last),
    keepPulledDays: row.keep_pulled_days === null ? null : Number(row.keep_pulled_days),
    keepPattern: row.keep_pattern,
    updatedAt: Number(row.updated_at),
    updatedBy: row.updated_by,
  };
}
