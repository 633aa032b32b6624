import { sql, type Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { HubError } from './errors.js';
import { countOf, type Plan, type PlanService } from './plans.js';

/**
 * What a namespace uses, against what its plan allows.
 * - Storage: the bytes of the distinct blobs its manifests refer to (a layer shared by two of its
 *   repositories counts once; uploaded blobs that no manifest names yet do not count).
 * - Private repositories: its private rows of `hub_repositories`.
 * After a downgrade nothing is deleted: the private repositories over the new limit become
 * read-only. Which stay writable: the oldest ones by creation (then by name), as many as the plan
 * allows; the others take pulls but refuse pushes until the namespace is back within the limit
 * (a repository made public or deleted, or a larger plan).
 */
export class NamespaceUsage {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly plans: PlanService,
  ) {}

  async storageBytes(namespace: string): Promise<number> {
    const row = await this.db
      .selectFrom('blobs')
      .select(sql<number | string>`coalesce(sum(blobs.size), 0)`.as('bytes'))
      .where('blobs.digest', 'in', this.referencedBlobs(namespace))
      .executeTakeFirst();
    return Number(row?.bytes ?? 0);
  }

  /** Bytes that a manifest naming `digests` would add to the namespace's storage. */
  async addedBytes(namespace: string, digests: readonly string[]): Promise<number> {
    const distinct = [...new Set(digests)];
    if (distinct.length === 0) return 0;
    const row = await this.db
      .selectFrom('blobs')
      .select(sql<number | string>`coalesce(sum(blobs.size), 0)`.as('bytes'))
      .where('blobs.digest', 'in', distinct)
      .where('blobs.digest', 'not in', this.referencedBlobs(namespace))
      .executeTakeFirst();
    return Number(row?.bytes ?? 0);
  }

  async privateRepositories(namespace: string): Promise<number> {
    const row = await this.db
      .selectFrom('hub_repositories')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('namespace', '=', namespace)
      .where('private', '=', 1)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Private repositories over the plan's limit (read-only until the namespace is back within it). */
  async readOnlyRepositories(namespace: string, plan: Plan): Promise<string[]> {
    const limit = plan.privateRepositories;
    if (limit === null) return [];
    const rows = await this.db
      .selectFrom('hub_repositories')
      .select('name')
      .where('namespace', '=', namespace)
      .where('private', '=', 1)
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    return rows.slice(limit).map((r) => r.name);
  }

  /** Everything the usage endpoint shows. */
  async of(namespace: string) {
    // a namespace no plan is enforced on (the official images) has no read-only repositories
    const enforced = await this.plans.enforcedPlanOf(namespace);
    const plan = enforced ?? (await this.plans.planOf(namespace));
    const [storageBytes, privateRepositories, readOnly] = await Promise.all([
      this.storageBytes(namespace),
      this.privateRepositories(namespace),
      enforced ? this.readOnlyRepositories(namespace, enforced) : Promise.resolve([]),
    ]);
    return { namespace, plan, storageBytes, privateRepositories, readOnly };
  }

  // Repositories of `namespace` are the names that start with "namespace/": a range that both
  // databases answer from the primary key ('0' follows '/' in byte order).
  private referencedBlobs(namespace: string) {
    return this.db
      .selectFrom('manifest_references')
      .select('manifest_references.digest')
      .where('manifest_references.repository', '>=', `${namespace}/`)
      .where('manifest_references.repository', '<', `${namespace}0`)
      .where('manifest_references.kind', '=', 'blob');
  }
}

/**
 * The checks that refuse, with a message that names the plan's limit and how to raise it. They
 * throw HubError('plan_limit'); the push gate turns that into the registry's DENIED. `plan` is the
 * namespace's enforced plan (PlanService.enforcedPlanOf), asked once per push step.
 */
export class NamespaceLimits {
  constructor(
    private readonly plans: PlanService,
    readonly usage: NamespaceUsage,
  ) {}

  /** The plan whose limits apply to pushes into `namespace`, if any. */
  planOf(namespace: string): Promise<Plan | undefined> {
    return this.plans.enforcedPlanOf(namespace);
  }

  /** After a repository of `namespace` became private: refuses when that put it over its plan. */
  async checkPrivateCount(namespace: string): Promise<void> {
    const plan = await this.plans.enforcedPlanOf(namespace);
    if (!plan || plan.privateRepositories === null) return;
    const count = await this.usage.privateRepositories(namespace);
    if (count <= plan.privateRepositories) return;
    // the count includes the repository that asked: the namespace had one less
    throw new HubError('plan_limit', `${privateLimit(plan, namespace, count - 1)} — make ${howMany(count - plan.privateRepositories)} public or ${await this.upgrade(plan, (p) => p.privateRepositories)}`);
  }

  /** Refuses a push into a private repository that a downgrade left over the plan's limit. */
  async checkWritable(plan: Plan, namespace: string, repository: string): Promise<void> {
    if (plan.privateRepositories === null) return;
    if (!(await this.usage.readOnlyRepositories(namespace, plan)).includes(repository)) return;
    const count = await this.usage.privateRepositories(namespace);
    throw new HubError(
      'plan_limit',
      `${repository} is read-only: ${privateLimit(plan, namespace, count)} — make ${howMany(count - plan.privateRepositories)} public or ${await this.upgrade(plan, (p) => p.privateRepositories)}`,
    );
  }

  /**
   * How many more bytes `namespace` may store, with the message of an upload stopped past it
   * (undefined: no limit). Refuses when no room is left, which is when an upload starts.
   */
  async storageAllowance(plan: Plan, namespace: string, refuseWhenFull: boolean): Promise<{ maxBytes: number; refusal: string } | undefined> {
    if (plan.storageBytes === null) return undefined;
    const used = await this.usage.storageBytes(namespace);
    if (refuseWhenFull && used >= plan.storageBytes) throw await this.storageRefusal(plan, namespace, used);
    const refusal = `this upload would take ${namespace} past the ${formatBytes(plan.storageBytes)} of storage of the ${plan.name} plan — delete images or ${await this.upgrade(plan, (p) => p.storageBytes)}`;
    return { maxBytes: Math.max(0, plan.storageBytes - used), refusal };
  }

  /** Refuses a manifest whose blobs would take the namespace over its storage. */
  async checkManifest(plan: Plan, namespace: string, digests: readonly string[]): Promise<void> {
    if (plan.storageBytes === null) return;
    const added = await this.usage.addedBytes(namespace, digests);
    if (added === 0) return;
    const used = await this.usage.storageBytes(namespace);
    if (used + added > plan.storageBytes) throw await this.storageRefusal(plan, namespace, used, added);
  }

  private async storageRefusal(plan: Plan, namespace: string, used: number, added?: number): Promise<HubError> {
    const what =
      added === undefined
        ? `${namespace} has used ${formatBytes(used)} of the ${formatBytes(plan.storageBytes!)} of storage of the ${plan.name} plan`
        : `this image adds ${formatBytes(added)} to the ${formatBytes(used)} that ${namespace} stores; the ${plan.name} plan allows ${formatBytes(plan.storageBytes!)}`;
    return new HubError('plan_limit', `${what} — delete images or ${await this.upgrade(plan, (p) => p.storageBytes)}`);
  }

  private async upgrade(plan: Plan, limit: (p: Plan) => number | null): Promise<string> {
    const next = await this.plans.upgradeFrom(plan, limit);
    return next ? `ask an administrator for the ${next.name} plan` : `ask an administrator to raise the limit of the ${plan.name} plan`;
  }
}

function privateLimit(plan: Plan, namespace: string, has: number): string {
  return `the ${plan.name} plan allows ${countOf(plan.privateRepositories!, 'private repository', 'private repositories')}; ${namespace} has ${has}`;
}

const howMany = (n: number) => (n === 1 ? 'one' : String(n));

/** Decimal units, as registries and disks count: 2 GB is 2,000,000,000 bytes. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes} bytes`;
  return `${Number.isInteger(value) ? value : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '')} ${units[unit]}`;
}
