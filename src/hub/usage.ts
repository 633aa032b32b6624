import { sql, type Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { namespaceRange } from '../oci/names.js';
import { HubError } from './errors.js';
import { countOf, type Billing, type Plan, type PlanService } from './plans.js';

/** A namespace's usage is folded into one row once it has more changes than this (NamespaceUsage.fold). */
const FOLD_AFTER = 64;

/**
 * What a namespace uses, against what its plan allows.
 * - Storage: every byte it holds or is receiving: the distinct blobs linked into its repositories
 *   (a layer shared by two of them counts once; an uploaded blob counts before a manifest names
 *   it), its manifests, and the bytes its open upload sessions have received.
 * - Private repositories: its private rows of `hub_repositories`.
 * A plan's allowance is shared by every namespace billed to the same account (Billing: a user and
 * the organisations it created without a plan of their own): their private repositories and
 * their storage (each namespace's, added up) count together against that account's plan.
 * After a downgrade nothing is deleted: the private repositories over the new limit become
 * read-only. Which stay writable: the oldest ones by creation (then by name), across the
 * allowance, as many as the plan allows; the others take pulls but refuse pushes until the
 * allowance is back within the limit (a repository made public or deleted, or a larger plan).
 */
export class NamespaceUsage {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly plans: PlanService,
  ) {}

  /**
   * Every byte the namespace holds or is receiving: the distinct blobs linked into its
   * repositories (whether a manifest names them yet or not), its manifests, and what its open
   * upload sessions have received so far.
   */
  async storageBytes(namespace: string): Promise<number> {
    return this.storageOf([namespace]);
  }

  /**
   * The bytes of `namespaces` together. What they hold is kept as it changes (migration 015's
   * triggers: `namespace_usage`), so this costs the same whatever they hold; only their open upload
   * sessions are summed here. One statement, so one snapshot: an upload completing (its session's
   * bytes becoming a linked blob in one transaction) is counted once, never in neither place.
   */
  private async storageOf(namespaces: readonly string[]): Promise<number> {
    if (namespaces.length === 0) return 0;
    const db = this.db;
    const row = await db
      .selectNoFrom([
        db
          .selectFrom('namespace_usage')
          .select(sql<number | string>`coalesce(sum(namespace_usage.bytes), 0)`.as('bytes'))
          .where('namespace_usage.namespace', 'in', namespaces)
          .as('held'),
        db
          .selectFrom('namespace_usage')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('namespace_usage.namespace', 'in', namespaces)
          .as('changes'),
        db
          .selectFrom('uploads')
          .select(sql<number | string>`coalesce(sum(uploads.size + uploads.reserved), 0)`.as('bytes'))
          .where((eb) =>
            eb.or(
              namespaces.map((ns) => {
                const { from, to } = namespaceRange(ns);
                return eb.and([eb('uploads.repository', '>=', from), eb('uploads.repository', '<', to)]);
              }),
            ),
          )
          .as('uploads'),
      ])
      .executeTakeFirst();
    if (Number(row?.changes ?? 0) > namespaces.length * FOLD_AFTER) for (const namespace of namespaces) await this.fold(namespace);
    return Number(row?.held ?? 0) + Number(row?.uploads ?? 0);
  }

  /**
   * Folds a namespace's changes into one row, so that reading them stays cheap. The rows this
   * deletes are the ones it adds up (RETURNING): a change committed meanwhile stays, and two
   * folds at once (replicas) each add up only what they deleted.
   */
  private async fold(namespace: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const rows = await trx.deleteFrom('namespace_usage').where('namespace', '=', namespace).returning('bytes').execute();
      if (rows.length === 0) return;
      const bytes = rows.reduce((sum, r) => sum + Number(r.bytes), 0);
      await trx.insertInto('namespace_usage').values({ namespace, bytes }).execute();
    });
  }

  /** Whether a repository of `namespace` holds the manifest `digest` already (its bytes count). */
  async holdsManifest(namespace: string, digest: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('namespace_manifests')
      .select('digest')
      .where('namespace', '=', namespace)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The namespaces that share the allowance of `payer`: itself and the organisations billed to it, by name. */
  billedNamespaces(payer: string): Promise<string[]> {
    return this.plans.billedNamespaces(payer);
  }

  /** The storage of an allowance: each of its namespaces' storage, added up; with those namespaces. */
  async allowanceStorage(payer: string): Promise<{ namespaces: string[]; storageBytes: number }> {
    const namespaces = await this.billedNamespaces(payer);
    return { namespaces, storageBytes: await this.storageOf(namespaces) };
  }

  /** The private repositories of an allowance: of `payer` and of every organisation billed to it. */
  async privateRepositories(payer: string): Promise<number> {
    const row = await this.db
      .selectFrom('hub_repositories')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('namespace', 'in', this.plans.billedTo(payer))
      .where('private', '=', 1)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Private repositories over the plan's limit, across the allowance (read-only until it is back within it). */
  async readOnlyRepositories(billing: Billing): Promise<string[]> {
    const limit = billing.plan.privateRepositories;
    if (limit === null) return [];
    const rows = await this.db
      .selectFrom('hub_repositories')
      .select('name')
      .where('namespace', 'in', this.plans.billedTo(billing.payer))
      .where('private', '=', 1)
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    return rows.slice(limit).map((r) => r.name);
  }

  /**
   * Everything the usage endpoint shows: whose allowance applies (`billedTo`), the namespaces that
   * share it, their storage and private repositories against its plan, and which repositories of
   * this namespace are read-only.
   */
  async of(namespace: string) {
    // a namespace no plan is enforced on (the official images) has no read-only repositories
    const enforced = await this.plans.enforcedBillingOf(namespace);
    const billing = enforced ?? { payer: namespace, plan: await this.plans.planOf(namespace) };
    const [{ namespaces, storageBytes }, privateRepositories, readOnly] = await Promise.all([
      this.allowanceStorage(billing.payer),
      this.privateRepositories(billing.payer),
      enforced ? this.readOnlyRepositories(enforced) : Promise.resolve([]),
    ]);
    // another namespace's repositories are its owners' business, even when they share an allowance
    const own = readOnly.filter((name) => name.startsWith(`${namespace}/`));
    return { namespace, plan: billing.plan, billedTo: billing.payer, namespaces, storageBytes, privateRepositories, readOnly: own };
  }
}

/**
 * The checks that refuse, with a message that names the plan's limit and how to raise it. They
 * throw HubError('plan_limit'); the push gate turns that into the registry's DENIED. `billing` is
 * the namespace's enforced billing (PlanService.enforcedBillingOf), asked once per push step.
 */
export class NamespaceLimits {
  constructor(
    private readonly plans: PlanService,
    readonly usage: NamespaceUsage,
  ) {}

  /** The plan whose limits apply to pushes into `namespace`, and whose allowance it is, if any. */
  billingOf(namespace: string): Promise<Billing | undefined> {
    return this.plans.enforcedBillingOf(namespace);
  }

  /** After a repository of `namespace` became private: refuses when that put its allowance over its plan. */
  async checkPrivateCount(namespace: string): Promise<void> {
    const billing = await this.plans.enforcedBillingOf(namespace);
    const plan = billing?.plan;
    if (!billing || !plan || plan.privateRepositories === null) return;
    const count = await this.usage.privateRepositories(billing.payer);
    if (count <= plan.privateRepositories) return;
    // the count includes the repository that asked: the allowance had one less
    throw new HubError(
      'plan_limit',
      `${await this.privateLimit(billing, namespace, count - 1)} — make ${howMany(count - plan.privateRepositories)} public or ${await this.upgrade(plan, (p) => p.privateRepositories)}`,
    );
  }

  /** Refuses a push into a private repository that a downgrade left over the plan's limit. */
  async checkWritable(billing: Billing, namespace: string, repository: string): Promise<void> {
    const { plan } = billing;
    if (plan.privateRepositories === null) return;
    if (!(await this.usage.readOnlyRepositories(billing)).includes(repository)) return;
    const count = await this.usage.privateRepositories(billing.payer);
    throw new HubError(
      'plan_limit',
      `${repository} is read-only: ${await this.privateLimit(billing, namespace, count)} — make ${howMany(count - plan.privateRepositories)} public or ${await this.upgrade(plan, (p) => p.privateRepositories)}`,
    );
  }

  /**
   * How many more bytes `namespace` may store, with the message of an upload stopped past it
   * (undefined: no limit). Refuses when no room is left, which is when an upload starts.
   */
  async storageAllowance(billing: Billing, namespace: string, refuseWhenFull: boolean, heldBySession = 0): Promise<{ maxBytes: number; refusal: string } | undefined> {
    const { plan } = billing;
    if (plan.storageBytes === null) return undefined;
    const { namespaces, storageBytes: used } = await this.usage.allowanceStorage(billing.payer);
    if (refuseWhenFull && used - heldBySession >= plan.storageBytes) throw await this.storageRefusal(billing, namespace, namespaces, used);
    const refusal = `${this.billedNote(billing, namespace)}this upload would take ${holders(billing, namespaces)} past the ${formatBytes(plan.storageBytes)} of storage of the ${plan.name} plan — delete images or ${await this.upgrade(plan, (p) => p.storageBytes)}`;
    // the blob may have in all what is left, and what its own session holds or reserved (counted in `used`)
    return { maxBytes: Math.max(0, plan.storageBytes - used + heldBySession), refusal };
  }

  /**
   * Refuses a manifest whose own bytes would take the allowance over its storage. Its blobs count
   * already: they were linked when they were uploaded or mounted.
   */
  async checkManifest(billing: Billing, namespace: string, manifestBytes: number, digest?: string): Promise<void> {
    if (billing.plan.storageBytes === null) return;
    // pushed again, or tagged anew: the namespace holds these bytes already
    if (digest && (await this.usage.holdsManifest(namespace, digest))) return;
    const { namespaces, storageBytes: used } = await this.usage.allowanceStorage(billing.payer);
    if (used + manifestBytes > billing.plan.storageBytes) throw await this.storageRefusal(billing, namespace, namespaces, used, manifestBytes);
  }

  private async storageRefusal(billing: Billing, namespace: string, namespaces: string[], used: number, added?: number): Promise<HubError> {
    const { plan } = billing;
    const who = holders(billing, namespaces);
    const one = namespaces.length <= 1;
    const what =
      added === undefined
        ? `${who} ${one ? 'has' : 'have'} used ${formatBytes(used)} of the ${formatBytes(plan.storageBytes!)} of storage of the ${plan.name} plan`
        : `this manifest adds ${formatBytes(added)} to the ${formatBytes(used)} that ${who} ${one ? 'stores' : 'store'}; the ${plan.name} plan allows ${formatBytes(plan.storageBytes!)}`;
    return new HubError('plan_limit', `${this.billedNote(billing, namespace)}${what} — delete images or ${await this.upgrade(plan, (p) => p.storageBytes)}`);
  }

  /** "the free plan allows 1 private repository; alice has 1", naming the whole allowance when several namespaces share it. */
  private async privateLimit(billing: Billing, namespace: string, has: number): Promise<string> {
    const namespaces = await this.usage.billedNamespaces(billing.payer);
    const plan = billing.plan;
    return `${this.billedNote(billing, namespace)}the ${plan.name} plan allows ${countOf(plan.privateRepositories!, 'private repository', 'private repositories')}; ${holders(billing, namespaces)} ${namespaces.length <= 1 ? 'has' : 'have'} ${has}`;
  }

  /** "acme is billed to alice: " when the allowance is another account's. */
  private billedNote(billing: Billing, namespace: string): string {
    return billing.payer === namespace ? '' : `${namespace} is billed to ${billing.payer}: `;
  }

  private async upgrade(plan: Plan, limit: (p: Plan) => number | null): Promise<string> {
    const next = await this.plans.upgradeFrom(plan, limit);
    return next ? `ask an administrator for the ${next.name} plan` : `ask an administrator to raise the limit of the ${plan.name} plan`;
  }
}

/** Who shares an allowance, as a refusal names them: the payer, or the payer and its organisations. */
function holders(billing: Billing, namespaces: readonly string[]): string {
  return namespaces.length > 1 ? `${billing.payer} and the organisations billed to it` : billing.payer;
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
