import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import { HubError } from './errors.js';
import { Remembered } from './remembered.js';

/**
 * A plan: a name, a price label (a label only: nothing here charges money) and limits, where null
 * means unlimited. `pullsPerWindow` pulls per `pullWindowSeconds`, for the account.
 */
export interface Plan {
  name: string;
  title: string;
  priceLabel: string;
  privateRepositories: number | null;
  storageBytes: number | null;
  pullsPerWindow: number | null;
  pullWindowSeconds: number;
  seats: number | null;
  features: string[];
}

/**
 * Advanced features a plan may unlock. They are checked where they are used, not only where they
 * are set up (a downgrade switches them off at once), and always through `PlanService.hasFeature`.
 */
export const PLAN_FEATURES = ['team-permissions', 'organization-tokens', 'webhooks', 'tag-immutability', 'retention-policies'] as const;
export type PlanFeature = (typeof PLAN_FEATURES)[number];

const GB = 1_000_000_000;
const SIX_HOURS = 6 * 3600;

/** Modelled on Docker Hub's levels; written at start when the table is empty, then edited by administrators. */
export const DEFAULT_PLANS: readonly Plan[] = [
  {
    name: 'free',
    title: 'Free',
    priceLabel: 'Free',
    privateRepositories: 1,
    storageBytes: 2 * GB,
    pullsPerWindow: 100,
    pullWindowSeconds: SIX_HOURS,
    // the creator and two teammates: an organisation billed to a free account can hold a team
    seats: 3,
    features: [],
  },
  {
    name: 'pro',
    title: 'Pro',
    priceLabel: 'Granted by an administrator',
    privateRepositories: null,
    storageBytes: 50 * GB,
    pullsPerWindow: 5_000,
    pullWindowSeconds: SIX_HOURS,
    // never fewer than free: the organisations billed to an account take their seats from its plan
    seats: 5,
    features: [],
  },
  {
    name: 'team',
    title: 'Team',
    priceLabel: 'Granted by an administrator',
    privateRepositories: null,
    storageBytes: 500 * GB,
    pullsPerWindow: 50_000,
    pullWindowSeconds: SIX_HOURS,
    seats: 100,
    features: ['team-permissions', 'organization-tokens', 'webhooks', 'tag-immutability', 'retention-policies'],
  },
];

const FREE = DEFAULT_PLANS[0]!;

/** What an administrator may change in a plan (its name stays). */
export type PlanUpdate = Partial<Omit<Plan, 'name'>>;

/** Who asks for a plan change. */
export interface PlanRequester {
  name: string;
  admin: boolean;
}

/**
 * The payment port. A provider decides whether `namespace` gets `plan`: it answers 'granted'
 * (the plan applies now) or 'pending' with where the requester continues (a checkout page, a
 * form); a provider that takes payment would call `PlanService.apply` once it is paid.
 */
export interface PlanProvider {
  readonly name: string;
  change(request: { namespace: string; from: Plan; to: Plan; by: PlanRequester }): Promise<PlanChange>;
}

export type PlanChange = { status: 'granted' } | { status: 'pending'; next: string };

/** The built-in provider: an administrator grants a plan; nobody else can, and nothing is charged. */
export const administratorGrants: PlanProvider = {
  name: 'administrator',
  async change({ to, by }) {
    if (!by.admin) throw new HubError('forbidden', `only an administrator grants plans: ask one for the ${to.name} plan`);
    return { status: 'granted' };
  },
};

/**
 * Whose allowance a namespace draws on. An organisation is billed to the user who created it
 * until an administrator grants it a plan of its own: its private repositories, storage, seats
 * and features come from that user's plan, and count together with that user's own namespace and
 * every other organisation billed to it (so that organisations are no way around a plan).
 */
export interface Billing {
  /** the account whose plan applies: the namespace itself, or the user an organisation is billed to */
  payer: string;
  plan: Plan;
}

/**
 * How long the plan list and a namespace's billing (its payer, plan and billed namespaces) are
 * reused: every push step asks them. A change made through this service is seen here at once (it
 * forgets them), and so is one a CLI command made in the same SQLite database (`databaseChanges`);
 * another replica's within this time.
 */
export const BILLING_TTL_MS = 1_000;

export interface RememberOptions {
  /** epoch ms, for BILLING_TTL_MS (default Date.now) */
  now?: () => number;
  /**
   * A value that changes when another process wrote the database (SQLite's data_version): then
   * nothing remembered is trusted, so that a CLI command (`pier plan set`) counts at once.
   */
  databaseChanges?: () => unknown;
}

/** The plans (data, in the `plans` table) and which one each account or organisation has. */
export class PlanService {
  private seeded: Promise<void> | undefined;
  private readonly listeners = new Set<(namespace: string | undefined) => void>();
  readonly #plans: Remembered<readonly Plan[]>;
  readonly #billing: Remembered<Billing | undefined>;
  readonly #billed: Remembered<readonly string[]>;
  #changeToken: unknown;

  constructor(
    private readonly db: Kysely<Database>,
    readonly provider: PlanProvider = administratorGrants,
    private readonly remember: RememberOptions = {},
  ) {
    const now = remember.now ?? Date.now;
    this.#plans = new Remembered(BILLING_TTL_MS, now);
    this.#billing = new Remembered(BILLING_TTL_MS, now);
    this.#billed = new Remembered(BILLING_TTL_MS, now);
  }

  /** Writes the default plans when the table is empty; replicas starting together write them once. */
  ensureDefaults(): Promise<void> {
    this.seeded ??= this.seed().catch((error: unknown) => {
      this.seeded = undefined;
      throw error;
    });
    return this.seeded;
  }

  private async seed(): Promise<void> {
    const any = await this.db.selectFrom('plans').select('name').limit(1).executeTakeFirst();
    if (any) return;
    for (const [position, plan] of DEFAULT_PLANS.entries()) {
      await this.db
        .insertInto('plans')
        .values({ ...toRow(plan), position })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    }
  }

  async list(): Promise<Plan[]> {
    this.#readAgainAfterOtherWriters();
    const plans = this.#plans.get('', async () => {
      await this.ensureDefaults();
      const rows = await this.db.selectFrom('plans').selectAll().orderBy('position').orderBy('name').execute();
      return rows.map((row) => deepFreezePlan(toPlan(row)));
    });
    return [...(await plans)];
  }

  async get(name: string): Promise<Plan | undefined> {
    return (await this.list()).find((plan) => plan.name === name);
  }

  /** Forgets the plans and billings this replica remembers (BILLING_TTL_MS): after an account or organisation was created or deleted. */
  forget(): void {
    this.#plans.forget();
    this.#billing.forget();
    this.#billed.forget();
  }

  /**
   * The plan that applies to an account or organisation (its payer's: see Billing): the free plan
   * when it is unknown (or its plan was removed from the table). One indexed query: asked per
   * request by the pull limits.
   */
  async planOf(name: string): Promise<Plan> {
    return (await this.billingOf(name))?.plan ?? (await this.get(FREE.name)) ?? FREE;
  }

  /**
   * The plan whose limits apply to pushes into `namespace`: none for a namespace that is no
   * account or organisation (an open-mode registry, where names need no account) nor for the
   * official images, which administrators manage.
   */
  async enforcedPlanOf(namespace: string): Promise<Plan | undefined> {
    return (await this.enforcedBillingOf(namespace))?.plan;
  }

  /** enforcedPlanOf, with whose allowance it is. */
  async enforcedBillingOf(namespace: string): Promise<Billing | undefined> {
    if (namespace === OFFICIAL_NAMESPACE) return undefined;
    return this.billingOf(namespace);
  }

  /**
   * The one decision of whether a namespace may use a feature: its plan (its payer's) includes
   * it. The official images, which administrators manage, have every feature.
   */
  async hasFeature(namespace: string, feature: PlanFeature): Promise<boolean> {
    if (namespace === OFFICIAL_NAMESPACE) return true;
    return (await this.planOf(namespace)).features.includes(feature);
  }

  /** Refuses `what` (a team, an organisation token...) when the plan of `namespace` lacks `feature` (HubError 'plan_limit'). */
  async requireFeature(namespace: string, feature: PlanFeature, what: string): Promise<void> {
    const refusal = await this.featureRefusal(namespace, feature, what);
    if (refusal) throw new HubError('plan_limit', refusal);
  }

  /** Why `what` is refused for lack of `feature`, naming the plan and how to get one that has it; undefined when the plan has it. */
  async featureRefusal(namespace: string, feature: PlanFeature, what: string): Promise<string | undefined> {
    if (await this.hasFeature(namespace, feature)) return undefined;
    const billing = await this.billingOf(namespace);
    const plan = billing?.plan ?? (await this.planOf(namespace));
    const payer = billing?.payer ?? namespace;
    const whose = payer === namespace ? `the ${plan.name} plan of ${namespace}` : `the ${plan.name} plan of ${payer}, which ${namespace} is billed to,`;
    const next = (await this.list()).find((p) => p.features.includes(feature));
    const remedy = next ? `ask an administrator for the ${next.name} plan` : `ask an administrator for a plan that includes it`;
    return `${what} needs the "${feature}" feature, which ${whose} does not include: ${remedy}`;
  }

  /** Called with the namespace whose plan changed, or undefined when a plan itself was edited (every namespace on it). */
  onChange(listener: (namespace: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An administrator edits a plan's label, limits or features. */
  async update(name: string, update: PlanUpdate): Promise<Plan> {
    const current = await this.get(name);
    if (!current) throw new HubError('not_found', `no plan "${name}"`);
    const next: Plan = { ...current, ...update, name };
    const problem = planProblem(next);
    if (problem) throw new HubError('invalid', problem);
    await this.db.updateTable('plans').set(toRow(next)).where('name', '=', name).execute();
    this.changed(undefined);
    return next;
  }

  /** Asks the provider for `planName` on behalf of `by`; applies it when granted. */
  async assign(namespace: string, planName: string, by: PlanRequester): Promise<PlanChange & { plan: Plan }> {
    const to = await this.get(planName);
    if (!to) throw new HubError('invalid', `no plan "${planName}": the plans are ${(await this.list()).map((p) => p.name).join(', ')}`);
    const from = await this.ownPlan(namespace);
    if (!from) throw new HubError('not_found', `no account or organisation "${namespace}"`);
    const change = await this.provider.change({ namespace, from, to, by });
    if (change.status === 'granted') await this.apply(namespace, to.name);
    return { ...change, plan: change.status === 'granted' ? to : from };
  }

  /**
   * Records the plan of `namespace`: for providers, once a change is settled. An organisation given
   * a plan is billed to itself from then on. Deletes nothing (see NamespaceLimits).
   */
  async apply(namespace: string, planName: string): Promise<void> {
    const result = await this.db
      .updateTable('accounts')
      .set({ plan: planName, billed_to: null })
      .where('name', '=', namespace)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new HubError('not_found', `no account or organisation "${namespace}"`);
    this.changed(namespace);
  }

  /** Every live account billed to `payer`, itself included: a subquery, for the usage of an allowance. */
  billedTo(payer: string) {
    return this.db
      .selectFrom('accounts')
      .select('accounts.name')
      .where((eb) => eb.or([eb('accounts.name', '=', payer), eb('accounts.billed_to', '=', payer)]))
      .where('accounts.deleted_at', 'is', null);
  }

  /** The next plan in the list whose `limit` is higher (or unlimited): what a refusal suggests. */
  async upgradeFrom(plan: Plan, limit: (p: Plan) => number | null): Promise<Plan | undefined> {
    const current = limit(plan);
    if (current === null) return undefined;
    const plans = await this.list();
    const after = plans.slice(plans.findIndex((p) => p.name === plan.name) + 1);
    return after.find((p) => {
      const value = limit(p);
      return value === null || value > current;
    });
  }

  /**
   * Whose allowance an existing account or organisation draws on, and that plan (one query);
   * undefined when there is no such account. An organisation billed to an account that was
   * deleted since is billed to itself.
   */
  billingOf(name: string): Promise<Billing | undefined> {
    this.#readAgainAfterOtherWriters();
    // no such account yet: not kept, so that one created meanwhile counts at once
    return this.#billing.get(name, () => this.#readBilling(name), (found) => found !== undefined);
  }

  /** The namespaces that share the allowance of `payer`: itself and the organisations billed to it, by name. */
  async billedNamespaces(payer: string): Promise<string[]> {
    this.#readAgainAfterOtherWriters();
    const names = this.#billed.get(payer, async () => {
      const rows = await this.billedTo(payer).orderBy('accounts.name').execute();
      return Object.freeze(rows.map((r) => r.name));
    });
    return [...(await names)];
  }

  /** Forgets every answer once another process wrote the database (`databaseChanges`). */
  #readAgainAfterOtherWriters(): void {
    if (!this.remember.databaseChanges) return;
    const token = this.remember.databaseChanges();
    if (token === this.#changeToken) return;
    this.forget();
    this.#changeToken = token;
  }

  async #readBilling(name: string): Promise<Billing | undefined> {
    await this.ensureDefaults();
    const row = await this.db
      .selectFrom('accounts')
      .leftJoin('accounts as payer', (join) => join.onRef('payer.name', '=', 'accounts.billed_to').on('payer.deleted_at', 'is', null))
      .leftJoin('plans', (join) => join.on((eb) => eb('plans.name', '=', eb.fn.coalesce('payer.plan', 'accounts.plan'))))
      .select(['payer.name as payer', 'plans.name as plan', 'plans.title', 'plans.price_label', 'plans.private_repositories', 'plans.storage_bytes'])
      .select(['plans.pulls_per_window', 'plans.pull_window_seconds', 'plans.seats', 'plans.features', 'plans.position'])
      .where('accounts.name', '=', name)
      .where('accounts.deleted_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    const payer = row.payer ?? name;
    // a plan name that is no longer in the table: the free plan's limits apply
    if (row.plan === null) return Object.freeze({ payer, plan: (await this.get(FREE.name)) ?? FREE });
    return Object.freeze({ payer, plan: deepFreezePlan(toPlan({ ...row, name: row.plan } as Selectable<Database['plans']>)) });
  }

  /** The plan an account or organisation was given itself (what a plan change starts from); undefined when there is no such account. */
  private async ownPlan(name: string): Promise<Plan | undefined> {
    await this.ensureDefaults();
    const row = await this.db.selectFrom('accounts').select('plan').where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
    if (!row) return undefined;
    return (await this.get(row.plan)) ?? (await this.get(FREE.name)) ?? FREE;
  }

  private changed(namespace: string | undefined): void {
    this.forget();
    for (const listener of this.listeners) listener(namespace);
  }
}

function planProblem(plan: Plan): string | undefined {
  if (plan.title.trim() === '' || plan.title.length > 100) return 'title: 1 to 100 characters';
  if (plan.priceLabel.length > 100) return 'price_label: at most 100 characters';
  const limits = {
    private_repositories: plan.privateRepositories,
    storage_bytes: plan.storageBytes,
    pulls_per_window: plan.pullsPerWindow,
    seats: plan.seats,
  };
  for (const [field, value] of Object.entries(limits)) {
    if (value !== null && (!Number.isSafeInteger(value) || value < 0)) return `${field}: a whole number of at least 0, or null for unlimited`;
  }
  if (!Number.isSafeInteger(plan.pullWindowSeconds) || plan.pullWindowSeconds < 1) return 'pull_window_seconds: a whole number of at least 1';
  const unknown = plan.features.filter((f) => !(PLAN_FEATURES as readonly string[]).includes(f));
  if (unknown.length > 0) return `features: unknown ${unknown.join(', ')} (known: ${PLAN_FEATURES.join(', ')})`;
  return undefined;
}

function toRow(plan: Plan) {
  return {
    name: plan.name,
    title: plan.title,
    price_label: plan.priceLabel,
    private_repositories: plan.privateRepositories,
    storage_bytes: plan.storageBytes,
    pulls_per_window: plan.pullsPerWindow,
    pull_window_seconds: plan.pullWindowSeconds,
    seats: plan.seats,
    features: JSON.stringify([...new Set(plan.features)]),
  };
}

const limit = (value: number | string | null): number | null => (value === null ? null : Number(value));

/** Plans are shared by every caller while remembered: nobody changes one in place. */
function deepFreezePlan(plan: Plan): Plan {
  Object.freeze(plan.features);
  return Object.freeze(plan);
}

function toPlan(row: Selectable<Database['plans']>): Plan {
  let features: unknown;
  try {
    features = JSON.parse(row.features);
  } catch {
    features = [];
  }
  return {
    name: row.name,
    title: row.title,
    priceLabel: row.price_label,
    privateRepositories: limit(row.private_repositories),
    storageBytes: limit(row.storage_bytes),
    pullsPerWindow: limit(row.pulls_per_window),
    pullWindowSeconds: Number(row.pull_window_seconds),
    seats: limit(row.seats),
    features: Array.isArray(features) ? features.filter((f): f is string => typeof f === 'string') : [],
  };
}

/** "1 private repository", "3 private repositories" */
export function countOf(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
