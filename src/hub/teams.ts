import type { Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { isValidRepositoryName } from '../oci/names.js';
import type { Clock } from '../registry/ports.js';
import { HubError } from './errors.js';
import type { OrganizationService } from './organizations.js';
import type { PlanService } from './plans.js';

export type TeamPermission = 'read' | 'write' | 'admin';
export const TEAM_PERMISSIONS: readonly TeamPermission[] = ['read', 'write', 'admin'];
/** A team permission on this "repository" covers every repository of the organisation. */
export const ALL_REPOSITORIES = '*';

export interface Team {
  organization: string;
  name: string;
  description: string;
  createdAt: number;
}

export interface TeamDetails extends Team {
  members: string[];
  /** full repository names (`acme/app`), or `*` */
  permissions: { repository: string; permission: TeamPermission }[];
}

const TEAM_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const RANK: Record<TeamPermission, number> = { read: 1, write: 2, admin: 3 };

export function isTeamPermission(value: string): value is TeamPermission {
  return (TEAM_PERMISSIONS as readonly string[]).includes(value);
}

/** Repository actions a team permission gives: read pulls, write pushes too, admin deletes too. */
export function actionsOfTeamPermission(permission: TeamPermission): string[] {
  if (permission === 'admin') return ['pull', 'push', 'delete'];
  if (permission === 'write') return ['pull', 'push'];
  return ['pull'];
}

/**
 * Teams inside an organisation: members of the organisation, given read, write or admin on
 * chosen repositories of it or on all of them (`*`). Who may manage them is the caller's
 * business (owners and administrators). Teams need a plan with team permissions: creating one,
 * putting a member on one and giving one a permission are refused without it, and what teams
 * give stops applying after a downgrade (HubAccessPolicy); removing and deleting stay possible.
 */
export class TeamService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly organizations: OrganizationService,
    private readonly clock: Clock,
    private readonly plans: Pick<PlanService, 'requireFeature'>,
  ) {}

  async create(organization: string, name: string, description = ''): Promise<Team> {
    if (name.length < 1 || name.length > 50 || !TEAM_NAME.test(name)) {
      throw new HubError('invalid', 'a team name has 1 to 50 lowercase letters and digits, with single separators (. _ -) between them');
    }
    if (description.length > 500) throw new HubError('invalid', 'a team description has at most 500 characters');
    await this.plans.requireFeature(organization, 'team-permissions', 'a team');
    const now = this.clock.now();
    await this.db.transaction().execute(async (trx) => {
      await this.organizations.lock(trx, organization);
      const existing = await trx.selectFrom('teams').select('name').where('organization', '=', organization).where('name', '=', name).executeTakeFirst();
      if (existing) throw new HubError('conflict', `${organization} already has a team "${name}"`);
      await trx.insertInto('teams').values({ organization, name, description, created_at: now }).execute();
    });
    return { organization, name, description, createdAt: now };
  }

  async list(organization: string): Promise<Team[]> {
    const rows = await this.db.selectFrom('teams').selectAll().where('organization', '=', organization).orderBy('name').execute();
    return rows.map((r) => ({ organization: r.organization, name: r.name, description: r.description, createdAt: Number(r.created_at) }));
  }

  async get(organization: string, name: string): Promise<TeamDetails | undefined> {
    const row = await this.db.selectFrom('teams').selectAll().where('organization', '=', organization).where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    const members = await this.db
      .selectFrom('team_members')
      .select('account')
      .where('organization', '=', organization)
      .where('team', '=', name)
      .orderBy('account')
      .execute();
    const permissions = await this.db
      .selectFrom('team_permissions')
      .select(['repository', 'permission'])
      .where('organization', '=', organization)
      .where('team', '=', name)
      .orderBy('repository')
      .execute();
    return {
      organization,
      name,
      description: row.description,
      createdAt: Number(row.created_at),
      members: members.map((m) => m.account),
      permissions: permissions.filter((p) => isTeamPermission(p.permission)).map((p) => ({ repository: p.repository, permission: p.permission as TeamPermission })),
    };
  }

  async setDescription(organization: string, name: string, description: string): Promise<void> {
    if (description.length > 500) throw new HubError('invalid', 'a team description has at most 500 characters');
    const result = await this.db.updateTable('teams').set({ description }).where('organization', '=', organization).where('name', '=', name).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw noTeam(organization, name);
  }

  async delete(organization: string, name: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('teams').where('organization', '=', organization).where('name', '=', name).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw noTeam(organization, name);
      await trx.deleteFrom('team_members').where('organization', '=', organization).where('team', '=', name).execute();
      await trx.deleteFrom('team_permissions').where('organization', '=', organization).where('team', '=', name).execute();
    });
  }

  /** Puts a member of the organisation on a team. */
  async addMember(organization: string, team: string, account: string): Promise<void> {
    await this.plans.requireFeature(organization, 'team-permissions', 'putting a member on a team');
    await this.db.transaction().execute(async (trx) => {
      // the organisation's lock: a member being removed meanwhile cannot stay on the team
      await this.organizations.lock(trx, organization);
      await requireTeam(trx, organization, team);
      const member = await trx
        .selectFrom('organization_members')
        .select('role')
        .where('organization', '=', organization)
        .where('account', '=', account)
        .executeTakeFirst();
      if (!member) throw new HubError('invalid', `${account} is not a member of ${organization}: add them to the organisation first`);
      await trx
        .insertInto('team_members')
        .values({ organization, team, account })
        .onConflict((oc) => oc.columns(['organization', 'team', 'account']).doNothing())
        .execute();
    });
  }

  async removeMember(organization: string, team: string, account: string): Promise<void> {
    const result = await this.db
      .deleteFrom('team_members')
      .where('organization', '=', organization)
      .where('team', '=', team)
      .where('account', '=', account)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new HubError('not_found', `${account} is not on the team ${organization}/${team}`);
  }

  /** Gives a team read, write or admin on a repository of the organisation (`app` or `acme/app`), or on all (`*`). */
  async setPermission(organization: string, team: string, repository: string, permission: string): Promise<string> {
    if (!isTeamPermission(permission)) throw new HubError('invalid', 'a team permission is read, write or admin');
    const target = teamRepository(organization, repository);
    await this.plans.requireFeature(organization, 'team-permissions', 'a team permission');
    await this.db.transaction().execute(async (trx) => {
      await requireTeam(trx, organization, team);
      await trx
        .insertInto('team_permissions')
        .values({ organization, team, repository: target, permission })
        .onConflict((oc) => oc.columns(['organization', 'team', 'repository']).doUpdateSet({ permission }))
        .execute();
    });
    return target;
  }

  async removePermission(organization: string, team: string, repository: string): Promise<void> {
    const target = teamRepository(organization, repository);
    const result = await this.db
      .deleteFrom('team_permissions')
      .where('organization', '=', organization)
      .where('team', '=', team)
      .where('repository', '=', target)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new HubError('not_found', `the team ${organization}/${team} has no permission on ${target}`);
  }

  /** The strongest permission the teams of `account` give on `repository` of `organization`, in one query. */
  async permissionOf(organization: string, account: string, repository: string): Promise<TeamPermission | undefined> {
    const rows = await this.db
      .selectFrom('team_permissions as p')
      .innerJoin('team_members as m', (join) => join.onRef('m.organization', '=', 'p.organization').onRef('m.team', '=', 'p.team'))
      .select(['p.repository', 'p.permission'])
      .where('p.organization', '=', organization)
      .where('m.account', '=', account)
      .where('p.repository', 'in', [repository, ALL_REPOSITORIES])
      .execute();
    return strongestPermission(rows, repository);
  }

  /** The organisations where `account` is on a team. */
  async organizationsOfMember(account: string): Promise<string[]> {
    const rows = await this.db.selectFrom('team_members').select('organization').distinct().where('account', '=', account).orderBy('organization').execute();
    return rows.map((r) => r.organization);
  }

  /** Every permission the teams of `account` give in each of `organizations` (a page of repositories asks once). */
  async grantsAmong(account: string, organizations: readonly string[]): Promise<Map<string, TeamGrant[]>> {
    const grants = new Map<string, TeamGrant[]>();
    if (organizations.length === 0) return grants;
    const rows = await this.db
      .selectFrom('team_permissions as p')
      .innerJoin('team_members as m', (join) => join.onRef('m.organization', '=', 'p.organization').onRef('m.team', '=', 'p.team'))
      .select(['p.organization', 'p.repository', 'p.permission'])
      .where('m.account', '=', account)
      .where('p.organization', 'in', [...organizations])
      .execute();
    for (const row of rows) {
      let list = grants.get(row.organization);
      if (!list) grants.set(row.organization, (list = []));
      list.push(row);
    }
    return grants;
  }
}

export interface TeamGrant {
  /** a full name, or `*` */
  repository: string;
  permission: string;
}

/** Of a member's team grants, the strongest that covers `repository` (named, or `*`). */
export function strongestPermission(grants: readonly TeamGrant[], repository: string): TeamPermission | undefined {
  let best: TeamPermission | undefined;
  for (const { repository: target, permission } of grants) {
    if (target !== repository && target !== ALL_REPOSITORIES) continue;
    if (isTeamPermission(permission) && (!best || RANK[permission] > RANK[best])) best = permission;
  }
  return best;
}

/** `*`, or the full name of a repository of the organisation (`app` means `acme/app`; `globex/app` is refused). */
export function teamRepository(organization: string, repository: string): string {
  if (repository === ALL_REPOSITORIES) return repository;
  if (repository.includes('/') && !repository.startsWith(`${organization}/`)) {
    throw new HubError('invalid', `"${repository}" is not a repository of ${organization}`);
  }
  const full = repository.includes('/') ? repository : `${organization}/${repository}`;
  if (!isValidRepositoryName(full)) throw new HubError('invalid', `"${repository}" is not a valid repository name`);
  return full;
}

async function requireTeam(trx: Kysely<Database>, organization: string, team: string): Promise<void> {
  const row = await trx.selectFrom('teams').select('name').where('organization', '=', organization).where('name', '=', team).executeTakeFirst();
  if (!row) throw noTeam(organization, team);
}

function noTeam(organization: string, team: string): HubError {
  return new HubError('not_found', `${organization} has no team "${team}"`);
}
