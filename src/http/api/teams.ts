import { z } from 'zod';
import type { Team, TeamDetails } from '../../hub/teams.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { managed, membered, OrgPath } from './org-access.js';
import { notFound } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf, Timestamp } from './schemas.js';

const Permission = z.enum(['read', 'write', 'admin']);
const CreateTeam = z.strictObject({ name: z.string(), description: z.string().optional() });
const UpdateTeam = z.strictObject({ description: z.string() });
const AddTeamMember = z.strictObject({ username: z.string() });
const SetPermission = z.strictObject({ permission: Permission });

const TeamPath = OrgPath.extend({ team: z.string() });
const TeamMemberPath = TeamPath.extend({ user: z.string() });
const PermissionPath = TeamPath.extend({
  repository: z.string().meta({ description: 'a repository of the organisation, by its name inside it (`app`, or `team%2Fapp`), or `*` for all' }),
});

const TeamPermissionSchema = z
  .object({ repository: z.string().meta({ description: 'a full repository name (`acme/app`), or `*`' }), permission: Permission })
  .meta({ id: 'TeamPermission' });

const TeamSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    created_at: Timestamp,
    members: z.array(z.string()).optional().meta({ description: 'in the answers that show one team' }),
    permissions: z.array(TeamPermissionSchema).optional(),
  })
  .meta({ id: 'Team' });

const TeamMember = z.object({ username: z.string() });

function teamJson(team: Team | TeamDetails): z.output<typeof TeamSchema> {
  return {
    name: team.name,
    description: team.description,
    created_at: iso(team.createdAt)!,
    ...('members' in team ? { members: team.members, permissions: team.permissions } : {}),
  };
}

/**
 * An organisation's teams, their members and their permissions on repositories. Members see the
 * teams and who is on them; a team's permissions name repositories, private ones included, so
 * only owners see those.
 */
export function registerTeams(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  async function team(org: string, name: string): Promise<TeamDetails> {
    const found = await hub.teams.get(org, name);
    if (!found) throw notFound(`${org} has no team "${name}"`);
    return found;
  }

  router.route({
    method: 'GET',
    path: '/orgs/{org}/teams',
    summary: 'List an organisation’s teams',
    tags: ['teams'],
    auth: 'signed-in',
    params: OrgPath,
    responses: { 200: listOf(TeamSchema) },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params }) => {
      const org = await membered(ctx, caller, params.org);
      const teams = await hub.teams.list(org.name);
      return { results: teams.map(teamJson), count: teams.length };
    },
  });

  router.route({
    method: 'POST',
    path: '/orgs/{org}/teams',
    summary: 'Create a team',
    tags: ['teams'],
    auth: 'account',
    params: OrgPath,
    body: CreateTeam,
    responses: { 201: TeamSchema },
    problems: ['not-found', 'conflict', 'plan-limit'],
    handler: async ({ caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      const created = await hub.teams.create(org.name, body.name, body.description ?? '');
      return teamJson({ ...created, members: [], permissions: [] });
    },
  });

  router.route({
    method: 'GET',
    path: '/orgs/{org}/teams/{team}',
    summary: 'A team, its members and permissions',
    tags: ['teams'],
    auth: 'account',
    params: TeamPath,
    responses: { 200: TeamSchema },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      return teamJson(await team(org.name, params.team));
    },
  });

  router.route({
    method: 'PATCH',
    path: '/orgs/{org}/teams/{team}',
    summary: 'Change a team’s description',
    tags: ['teams'],
    auth: 'account',
    params: TeamPath,
    body: UpdateTeam,
    responses: { 200: TeamSchema },
    problems: ['not-found'],
    handler: async ({ caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.teams.setDescription(org.name, params.team, body.description);
      return teamJson(await team(org.name, params.team));
    },
  });

  router.route({
    method: 'DELETE',
    path: '/orgs/{org}/teams/{team}',
    summary: 'Delete a team',
    tags: ['teams'],
    auth: 'account',
    params: TeamPath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.teams.delete(org.name, params.team);
    },
  });

  router.route({
    method: 'GET',
    path: '/orgs/{org}/teams/{team}/members',
    summary: 'List a team’s members',
    tags: ['teams'],
    auth: 'signed-in',
    params: TeamPath,
    responses: { 200: listOf(TeamMember) },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params }) => {
      const org = await membered(ctx, caller, params.org);
      const { members } = await team(org.name, params.team);
      return { results: members.map((username) => ({ username })), count: members.length };
    },
  });

  router.route({
    method: 'POST',
    path: '/orgs/{org}/teams/{team}/members',
    summary: 'Add a member of the organisation to a team',
    tags: ['teams'],
    auth: 'account',
    params: TeamPath,
    body: AddTeamMember,
    responses: { 201: TeamMember },
    problems: ['not-found', 'conflict', 'plan-limit'],
    handler: async ({ caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.teams.addMember(org.name, params.team, body.username);
      return { username: body.username };
    },
  });

  router.route({
    method: 'PUT',
    path: '/orgs/{org}/teams/{team}/members/{user}',
    summary: 'Add a member of the organisation to a team (idempotent)',
    tags: ['teams'],
    auth: 'account',
    params: TeamMemberPath,
    responses: { 200: TeamMember },
    problems: ['not-found', 'conflict', 'plan-limit'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.teams.addMember(org.name, params.team, params.user);
      return { username: params.user };
    },
  });

  router.route({
    method: 'DELETE',
    path: '/orgs/{org}/teams/{team}/members/{user}',
    summary: 'Remove a member from a team',
    tags: ['teams'],
    auth: 'account',
    params: TeamMemberPath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.teams.removeMember(org.name, params.team, params.user);
    },
  });

  router.route({
    method: 'GET',
    path: '/orgs/{org}/teams/{team}/permissions',
    summary: 'List a team’s permissions',
    tags: ['teams'],
    auth: 'account',
    params: TeamPath,
    responses: { 200: listOf(TeamPermissionSchema) },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      const { permissions } = await team(org.name, params.team);
      return { results: permissions, count: permissions.length };
    },
  });

  router.route({
    method: 'PUT',
    path: '/orgs/{org}/teams/{team}/permissions/{repository}',
    summary: 'Give a team read, write or admin on a repository (or `*`)',
    tags: ['teams'],
    auth: 'account',
    params: PermissionPath,
    body: SetPermission,
    responses: { 200: TeamPermissionSchema },
    problems: ['not-found', 'plan-limit'],
    handler: async ({ request, caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      const repository = await hub.teams.setPermission(org.name, params.team, params.repository, body.permission);
      request.log.info({ organization: org.name, team: params.team, repository, permission: body.permission }, 'team permission set');
      return { repository, permission: body.permission };
    },
  });

  router.route({
    method: 'DELETE',
    path: '/orgs/{org}/teams/{team}/permissions/{repository}',
    summary: 'Take a team’s permission on a repository away',
    tags: ['teams'],
    auth: 'account',
    params: PermissionPath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.teams.removePermission(org.name, params.team, params.repository);
    },
  });
}
