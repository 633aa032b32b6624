import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import type { Clock } from '../registry/ports.js';
import type { Account } from './accounts.js';
import { accountNameProblem } from './account-names.js';
import { HubError } from './errors.js';
import { isProxyNamespace } from './proxies.js';

export type OrganizationRole = 'owner' | 'member';
export const ORGANIZATION_ROLES: readonly OrganizationRole[] = ['owner', 'member'];

export interface Organization {
  name: string;
  /** `library`: the official images, managed by administrators */
  official: boolean;
  verifiedPublisher: boolean;
  /** its own plan; while it is billed to another account, that account's plan applies instead */
  plan: string;
  /** the account whose allowance it draws on (its creator, until it is granted a plan of its own); null: itself */
  billedTo: string | null;
  /** visibility of repositories created by a first push into this namespace */
  defaultPrivate: boolean;
  createdAt: number;
}

export interface OrganizationMember {
  account: string;
  role: OrganizationRole;
  since: number;
}

/**
 * The member limit of an organisation's plan (null: unlimited), and whose plan it is when the
 * organisation is billed to another account; undefined when plans are not known, and nothing is
 * limited then.
 */
export type SeatLimit = (organization: string) => Promise<{ plan: string; seats: number | null; payer?: string } | undefined>;

export function isOrganizationRole(value: string): value is OrganizationRole {
  return (ORGANIZATION_ROLES as readonly string[]).includes(value);
}

/**
 * Organisations: namespaces with members, kept in `accounts` (kind 'organization', no password:
 * one name table, so a user and an organisation never share a name; an organisation never signs
 * in). Owners do everything; an organisation always keeps one owner, except `library`, which
 * administrators manage and which exists from the start.
 *
 * Every change to an organisation's members first writes its `accounts` row inside the
 * transaction: that row lock serialises concurrent changes on PostgreSQL (SQLite serialises
 * writers anyway), so two owners removing each other cannot leave none.
 */
export class OrganizationService {
  private official: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly seatLimit?: SeatLimit,
    /** told when an organisation was created (it is billed to its owner: the owner's allowance changed) */
    private readonly created?: (organization: string) => void,
  ) {}

  /**
   * Creates an organisation owned by `owner` (a user), and billed to it: until an administrator
   * grants it a plan of its own, it draws on the owner's allowance (PlanService's Billing).
   */
  async create(name: string, owner: string): Promise<Organization> {
    const problem = accountNameProblem(name, 'an organisation name');
    if (problem) throw new HubError('invalid', problem);
    await this.db.transaction().execute(async (trx) => {
      await requireUser(trx, owner);
      await this.insert(trx, name, owner);
      await trx.insertInto('organization_members').values({ organization: name, account: owner, role: 'owner', created_at: this.clock.now() }).execute();
    });
    this.created?.(name);
    return (await this.get(name))!;
  }

  /** `library` exists from the start, owned by no user: administrators manage it. Idempotent, once per process. */
  ensureOfficial(): Promise<void> {
    this.official ??= (async () => {
      const row = await this.db.selectFrom('accounts').select('kind').where('name', '=', OFFICIAL_NAMESPACE).executeTakeFirst();
      if (row) return;
      await this.db
        .insertInto('accounts')
        .values(organizationRow(OFFICIAL_NAMESPACE, this.clock.now()))
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    })().catch((error: unknown) => {
      this.official = undefined;
      throw error;
    });
    return this.official;
  }

  async get(name: string): Promise<Organization | undefined> {
    if (name === OFFICIAL_NAMESPACE) await this.ensureOfficial();
    const row = await this.db
      .selectFrom('accounts')
      .selectAll()
      .where('name', '=', name)
      .where('kind', '=', 'organization')
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row && toOrganization(row);
  }

  async list(): Promise<Organization[]> {
    await this.ensureOfficial();
    const rows = await this.db.selectFrom('accounts').selectAll().where('kind', '=', 'organization').where('deleted_at', 'is', null).orderBy('name').execute();
    return rows.map(toOrganization);
  }

  /** The organisations `account` belongs to, with its role in each. */
  async ofAccount(account: string): Promise<{ organization: string; role: OrganizationRole }[]> {
    const rows = await this.db
      .selectFrom('organization_members')
      .select(['organization', 'role'])
      .where('account', '=', account)
      .orderBy('organization')
      .execute();
    return rows.map((r) => ({ organization: r.organization, role: r.role as OrganizationRole }));
  }

  async members(organization: string): Promise<OrganizationMember[]> {
    const rows = await this.db
      .selectFrom('organization_members')
      .selectAll()
      .where('organization', '=', organization)
      .orderBy('account')
      .execute();
    return rows.map((r) => ({ account: r.account, role: r.role as OrganizationRole, since: Number(r.created_at) }));
  }

  /** The account's role in each of `organizations` it belongs to, in one query. */
  async rolesAmong(account: string, organizations: readonly string[]): Promise<Map<string, OrganizationRole>> {
    if (organizations.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('organization_members')
      .select(['organization', 'role'])
      .where('account', '=', account)
      .where('organization', 'in', [...organizations])
      .execute();
    return new Map(rows.flatMap((r) => (isOrganizationRole(r.role) ? [[r.organization, r.role] as const] : [])));
  }

  /** The role of `account` in `organization`, or undefined when it is no member (or no organisation). */
  async role(organization: string, account: string): Promise<OrganizationRole | undefined> {
    return roleIn(this.db, organization, account);
  }

  /** Whether `account` may manage `organization` (members, teams, tokens, settings): its owners and administrators. */
  async mayManage(organization: string, account: Account): Promise<boolean> {
    if (account.admin) return true;
    return (await this.role(organization, account.name)) === 'owner';
  }

  /** Adds a user (invited by username), within the seats of the organisation's plan. */
  async addMember(organization: string, account: string, role: OrganizationRole = 'member'): Promise<OrganizationMember> {
    if (!isOrganizationRole(role)) throw new HubError('invalid', 'a role is owner or member');
    const limit = organization === OFFICIAL_NAMESPACE ? undefined : await this.seatLimit?.(organization);
    const now = this.clock.now();
    await this.db.transaction().execute(async (trx) => {
      await this.lock(trx, organization);
      await requireUser(trx, account);
      const existing = await roleIn(trx, organization, account);
      if (existing) throw new HubError('conflict', `${account} is already a member of ${organization}`);
      if (limit && limit.seats !== null) {
        const taken = await countMembers(trx, organization);
        if (taken >= limit.seats) {
          const whose = limit.payer === undefined || limit.payer === organization ? '' : ` (the plan of ${limit.payer}, which ${organization} is billed to)`;
          throw new HubError(
            'plan_limit',
            `${organization} has all ${limit.seats} seat${limit.seats === 1 ? '' : 's'} of its plan "${limit.plan}"${whose} taken: remove a member, or move the organisation to a plan with more seats`,
          );
        }
      }
      await trx.insertInto('organization_members').values({ organization, account, role, created_at: now }).execute();
    });
    return { account, role, since: now };
  }

  /** Makes a member an owner or a member; the last owner stays one. */
  async setRole(organization: string, account: string, role: OrganizationRole): Promise<void> {
    if (!isOrganizationRole(role)) throw new HubError('invalid', 'a role is owner or member');
    await this.db.transaction().execute(async (trx) => {
      await this.lock(trx, organization);
      const current = await roleIn(trx, organization, account);
      if (!current) throw new HubError('not_found', `${account} is not a member of ${organization}`);
      if (current === 'owner' && role !== 'owner') await refuseLastOwner(trx, organization, `demote ${account}`);
      await trx.updateTable('organization_members').set({ role }).where('organization', '=', organization).where('account', '=', account).execute();
    });
  }

  /** Removes a member (or lets one leave), with its team memberships; the last owner cannot go. */
  async removeMember(organization: string, account: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.lock(trx, organization);
      const current = await roleIn(trx, organization, account);
      if (!current) throw new HubError('not_found', `${account} is not a member of ${organization}`);
      if (current === 'owner') await refuseLastOwner(trx, organization, `remove ${account}`);
      await trx.deleteFrom('team_members').where('organization', '=', organization).where('account', '=', account).execute();
      await trx.deleteFrom('organization_members').where('organization', '=', organization).where('account', '=', account).execute();
    });
  }

  async setVerifiedPublisher(organization: string, verified: boolean): Promise<void> {
    await this.setFlag(organization, { verified_publisher: verified ? 1 : 0 });
  }

  async setDefaultPrivate(organization: string, defaultPrivate: boolean): Promise<void> {
    await this.setFlag(organization, { default_private: defaultPrivate ? 1 : 0 });
  }

  private async setFlag(organization: string, flag: { verified_publisher: number } | { default_private: number }): Promise<void> {
    if (organization === OFFICIAL_NAMESPACE) await this.ensureOfficial();
    const result = await this.db
      .updateTable('accounts')
      .set(flag)
      .where('name', '=', organization)
      .where('kind', '=', 'organization')
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new HubError('not_found', `no organisation "${organization}"`);
  }

  /**
   * Before a user is deleted: refused while it is the last owner of an organisation (someone must
   * be able to manage it); else its memberships go.
   */
  async forgetUser(account: string): Promise<void> {
    // per organisation, the owner count and the removal under the organisation's lock: two owners
    // leaving or deleted at once cannot both pass the check
    await this.db.transaction().execute(async (trx) => {
      const memberships = await trx.selectFrom('organization_members').select(['organization', 'role']).where('account', '=', account).orderBy('organization').execute();
      for (const { organization, role } of memberships) {
        if (role !== 'owner' || organization === OFFICIAL_NAMESPACE) continue;
        await this.lock(trx, organization);
        await refuseLastOwner(trx, organization, `delete ${account}, the last owner of the organisation ${organization}`);
      }
      await trx.deleteFrom('team_members').where('account', '=', account).execute();
      await trx.deleteFrom('organization_members').where('account', '=', account).execute();
    });
  }

  /** After an organisation is deleted: its members, teams and their permissions go (the name stays reserved). */
  async forgetOrganization(organization: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('team_permissions').where('organization', '=', organization).execute();
      await trx.deleteFrom('team_members').where('organization', '=', organization).execute();
      await trx.deleteFrom('teams').where('organization', '=', organization).execute();
      await trx.deleteFrom('organization_members').where('organization', '=', organization).execute();
    });
  }

  /** Writes the organisation's row (its row lock serialises member changes); not found when there is none. */
  async lock(trx: Transaction<Database>, organization: string): Promise<void> {
    if (organization === OFFICIAL_NAMESPACE) await this.ensureOfficial();
    const result = await trx
      .updateTable('accounts')
      .set({ kind: 'organization' })
      .where('name', '=', organization)
      .where('kind', '=', 'organization')
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new HubError('not_found', `no organisation "${organization}"`);
  }

  private async insert(trx: Transaction<Database>, name: string, billedTo: string): Promise<void> {
    const existing = await trx.selectFrom('accounts').select('name').where('name', '=', name).executeTakeFirst();
    if (existing || (await isProxyNamespace(trx, name))) throw new HubError('conflict', `the name "${name}" is taken`);
    try {
      await trx.insertInto('accounts').values({ ...organizationRow(name, this.clock.now()), billed_to: billedTo }).execute();
    } catch (error) {
      if (/unique|duplicate|constraint/i.test(String((error as Error).message))) throw new HubError('conflict', `the name "${name}" is taken`);
      throw error;
    }
  }
}

function organizationRow(name: string, now: number) {
  return {
    name,
    kind: 'organization',
    email: null,
    password_hash: null,
    is_admin: 0,
    default_private: 0,
    created_at: now,
    password_changed_at: now,
    deleted_at: null,
  };
}

async function requireUser(trx: Transaction<Database>, account: string): Promise<void> {
  const row = await trx.selectFrom('accounts').select('kind').where('name', '=', account).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) throw new HubError('not_found', `no user "${account}"`);
  if (row.kind !== 'user') throw new HubError('invalid', `"${account}" is an organisation: only users are members`);
}

async function countMembers(trx: Transaction<Database>, organization: string): Promise<number> {
  const row = await trx
    .selectFrom('organization_members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('organization', '=', organization)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** A member's role (inside the transaction that holds the organisation's lock, when one does). */
async function roleIn(db: Kysely<Database> | Transaction<Database>, organization: string, account: string): Promise<OrganizationRole | undefined> {
  const row = await db.selectFrom('organization_members').select('role').where('organization', '=', organization).where('account', '=', account).executeTakeFirst();
  return row && isOrganizationRole(row.role) ? row.role : undefined;
}

async function refuseLastOwner(trx: Transaction<Database>, organization: string, what: string): Promise<void> {
  if (organization === OFFICIAL_NAMESPACE) return; // administrators manage it, owners or not
  const row = await trx
    .selectFrom('organization_members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('organization', '=', organization)
    .where('role', '=', 'owner')
    .executeTakeFirst();
  if (Number(row?.n ?? 0) <= 1) {
    throw new HubError('conflict', `cannot ${what}: an organisation keeps at least one owner (make another member an owner first)`);
  }
}

function toOrganization(row: Selectable<Database['accounts']>): Organization {
  return {
    name: row.name,
    official: row.name === OFFICIAL_NAMESPACE,
    verifiedPublisher: Number(row.verified_publisher) === 1,
    plan: row.plan,
    billedTo: row.billed_to,
    defaultPrivate: Number(row.default_private) === 1,
    createdAt: Number(row.created_at),
  };
}
