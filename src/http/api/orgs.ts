import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { TOKEN_SCOPES } from '../../auth/access-policy.js';
import type { Organization, OrganizationMember } from '../../hub/organizations.js';
import type { Team, TeamDetails } from '../../hub/teams.js';
import type { OrganizationAccessToken } from '../../hub/tokens.js';
import { OFFICIAL_NAMESPACE } from '../../oci/names.js';
import { authenticate, requireAccountCaller, requireAdmin, requireCaller, type Caller } from './authenticate.js';
import { iso, parseBody, tokenLifetimeSeconds } from './body.js';
import type { ApiContext } from './context.js';
import { badRequest, forbidden, notFound } from './problem.js';

const Role = z.enum(['owner', 'member']);
const CreateOrganization = z.strictObject({ name: z.string(), owner: z.string().optional() });
const UpdateOrganization = z
  .strictObject({ default_private: z.boolean().optional() })
  .refine((v) => v.default_private !== undefined, { message: 'nothing to change: send default_private' });
const AddMember = z.strictObject({ username: z.string(), role: Role.optional() });
const ChangeRole = z.strictObject({ role: Role });
const CreateTeam = z.strictObject({ name: z.string(), description: z.string().optional() });
const UpdateTeam = z.strictObject({ description: z.string() });
const AddTeamMember = z.strictObject({ username: z.string() });
const SetPermission = z.strictObject({ permission: z.enum(['read', 'write', 'admin']) });
const CreateToken = z.strictObject({
  label: z.string(),
  scopes: z.array(z.string()).min(1, { message: `at least one of ${TOKEN_SCOPES.join(', ')}` }),
  repositories: z.array(z.string()).nullish(),
  expires_in: z.union([z.number(), z.string()]).nullish(),
});
const SetVerified = z.strictObject({ verified: z.boolean() });
const DeleteOrganization = z.strictObject({ confirm: z.string() });

type OrgParams = { Params: { org: string } };
type MemberParams = { Params: { org: string; user: string } };
type TeamParams = { Params: { org: string; team: string } };
type TeamMemberParams = { Params: { org: string; team: string; user: string } };
type PermissionParams = { Params: { org: string; team: string; repository: string } };

export function organizationJson(org: Organization, role?: string) {
  return {
    name: org.name,
    kind: 'organization' as const,
    official: org.official,
    verified_publisher: org.verifiedPublisher,
    plan: org.plan,
    default_private: org.defaultPrivate,
    created_at: iso(org.createdAt),
    ...(role !== undefined ? { role } : {}),
  };
}

function memberJson(member: OrganizationMember) {
  return { username: member.account, role: member.role, since: iso(member.since) };
}

function teamJson(team: Team | TeamDetails) {
  return {
    name: team.name,
    description: team.description,
    created_at: iso(team.createdAt),
    ...('members' in team ? { members: team.members, permissions: team.permissions } : {}),
  };
}

function orgTokenJson(token: OrganizationAccessToken) {
  return {
    id: token.id,
    label: token.label,
    scopes: token.scopes,
    repositories: token.repositories,
    created_at: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    last_used_at: iso(token.lastUsedAt),
  };
}

/**
 * Organisations, their members, teams, team permissions and access tokens. Owners (and
 * administrators) manage an organisation, with a password or a session: a leaked token must not
 * mint more. Members see its members and teams; anyone sees that it exists, and its badges.
 */
export function registerOrganizations(api: FastifyInstance, ctx: ApiContext): void {
  const { hub } = ctx;

  /** The organisation, or a 404 problem. */
  async function organization(name: string): Promise<Organization> {
    const org = await hub.organizations.get(name);
    if (!org) throw notFound(`no organisation "${name}"`);
    return org;
  }

  /** The caller, when it owns the organisation or is an administrator (password or session). */
  async function manager(request: FastifyRequest, name: string): Promise<{ caller: Caller; org: Organization }> {
    const caller = await requireAccountCaller(request, ctx);
    const org = await organization(name);
    if (!(await hub.organizations.mayManage(name, caller.account))) {
      throw forbidden(name === OFFICIAL_NAMESPACE ? 'only administrators manage the official images' : `only an owner of ${name} may do this`);
    }
    return { caller, org };
  }

  /** The caller, when it is a member of the organisation (or an administrator). */
  async function member(request: FastifyRequest, name: string): Promise<{ caller: Caller; org: Organization }> {
    const caller = await requireCaller(request, ctx);
    const org = await organization(name);
    // the organisation itself signs in only through its tokens: a token limited to some
    // repositories sees those, not the organisation's members, teams and permissions
    const self = caller.account.name === name && !caller.tokenRepositories;
    if (!caller.account.admin && !self && !(await hub.organizations.role(name, caller.account.name))) {
      throw forbidden(`only members of ${name} may see this`);
    }
    return { caller, org };
  }

  async function requireFeature(org: string, feature: string, what: string): Promise<void> {
    if (org === OFFICIAL_NAMESPACE) return;
    if (await hub.hasFeature(org, feature)) return;
    const plan = await hub.planLimits(org);
    throw forbidden(`${what} needs the "${feature}" feature, which the plan "${plan?.name ?? 'free'}" of ${org} does not include: move ${org} to a plan that has it`);
  }

  // ---- organisations ---------------------------------------------------------------------------

  api.post('/orgs', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    const body = parseBody(CreateOrganization, request.body);
    if (caller.account.kind !== 'user') throw forbidden('only users create organisations');
    const owner = body.owner ?? caller.account.name;
    if (owner !== caller.account.name && !caller.account.admin) throw forbidden('only an administrator creates an organisation for someone else');
    const org = await hub.organizations.create(body.name, owner);
    request.log.info({ organization: org.name, owner, by: caller.account.name }, 'organisation created');
    return reply.code(201).send(organizationJson(org, owner === caller.account.name ? 'owner' : undefined));
  });

  api.get('/orgs', async (request) => {
    const caller = await requireCaller(request, ctx);
    const memberships = await hub.organizations.ofAccount(caller.account.name);
    const results = [];
    for (const { organization: name, role } of memberships) {
      const org = await hub.organizations.get(name);
      if (org) results.push(organizationJson(org, role));
    }
    return { results, count: results.length };
  });

  api.get<OrgParams>('/orgs/:org', async (request) => {
    const caller = await authenticate(request, ctx);
    const org = await organization(request.params.org);
    const role = caller ? await hub.organizations.role(org.name, caller.account.name) : undefined;
    return organizationJson(org, role);
  });

  api.patch<OrgParams>('/orgs/:org', async (request) => {
    const { org } = await manager(request, request.params.org);
    const body = parseBody(UpdateOrganization, request.body);
    if (body.default_private !== undefined) await hub.organizations.setDefaultPrivate(org.name, body.default_private);
    return organizationJson((await hub.organizations.get(org.name))!);
  });

  api.delete<OrgParams>('/orgs/:org', async (request) => {
    const { caller, org } = await manager(request, request.params.org);
    const body = parseBody(DeleteOrganization, request.body);
    if (body.confirm !== org.name) throw badRequest(`to delete the organisation and all its repositories, send {"confirm": "${org.name}"}`);
    const { repositories } = await hub.deleteAccount(org.name, ctx.registry);
    request.log.info({ organization: org.name, repositories: repositories.length, by: caller.account.name }, 'organisation deleted');
    return { name: org.name, repositories: { results: repositories, count: repositories.length } };
  });

  api.put<OrgParams>('/orgs/:org/verified', async (request) => {
    const caller = await requireAdmin(request, ctx);
    const body = parseBody(SetVerified, request.body);
    await hub.organizations.setVerifiedPublisher(request.params.org, body.verified);
    request.log.info({ organization: request.params.org, verified: body.verified, by: caller.account.name }, 'verified publisher changed');
    return organizationJson(await organization(request.params.org));
  });

  // ---- members ---------------------------------------------------------------------------------

  api.get<OrgParams>('/orgs/:org/members', async (request) => {
    const { org } = await member(request, request.params.org);
    const members = await hub.organizations.members(org.name);
    return { results: members.map(memberJson), count: members.length };
  });

  api.post<OrgParams>('/orgs/:org/members', async (request, reply) => {
    const { caller, org } = await manager(request, request.params.org);
    const body = parseBody(AddMember, request.body);
    const added = await hub.organizations.addMember(org.name, body.username, body.role ?? 'member');
    request.log.info({ organization: org.name, member: body.username, role: added.role, by: caller.account.name }, 'organisation member added');
    return reply.code(201).send(memberJson(added));
  });

  api.patch<MemberParams>('/orgs/:org/members/:user', async (request) => {
    const { caller, org } = await manager(request, request.params.org);
    const body = parseBody(ChangeRole, request.body);
    await hub.organizations.setRole(org.name, request.params.user, body.role);
    request.log.info({ organization: org.name, member: request.params.user, role: body.role, by: caller.account.name }, 'organisation role changed');
    const changed = (await hub.organizations.members(org.name)).find((m) => m.account === request.params.user)!;
    return memberJson(changed);
  });

  api.delete<MemberParams>('/orgs/:org/members/:user', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    const org = await organization(request.params.org);
    // a member may always leave; removing someone else is an owner's
    if (request.params.user !== caller.account.name && !(await hub.organizations.mayManage(org.name, caller.account))) {
      throw forbidden(`only an owner of ${org.name} may remove members`);
    }
    await hub.organizations.removeMember(org.name, request.params.user);
    request.log.info({ organization: org.name, member: request.params.user, by: caller.account.name }, 'organisation member removed');
    return reply.code(204).send();
  });

  api.post<OrgParams>('/orgs/:org/leave', async (request, reply) => {
    const caller = await requireAccountCaller(request, ctx);
    const org = await organization(request.params.org);
    await hub.organizations.removeMember(org.name, caller.account.name);
    request.log.info({ organization: org.name, member: caller.account.name }, 'left the organisation');
    return reply.code(204).send();
  });

  // ---- teams -----------------------------------------------------------------------------------

  api.get<OrgParams>('/orgs/:org/teams', async (request) => {
    const { org } = await member(request, request.params.org);
    const teams = await hub.teams.list(org.name);
    return { results: teams.map(teamJson), count: teams.length };
  });

  api.post<OrgParams>('/orgs/:org/teams', async (request, reply) => {
    const { org } = await manager(request, request.params.org);
    const body = parseBody(CreateTeam, request.body);
    await requireFeature(org.name, 'team-permissions', 'a team');
    const team = await hub.teams.create(org.name, body.name, body.description ?? '');
    return reply.code(201).send(teamJson({ ...team, members: [], permissions: [] }));
  });

  // a team's permissions name repositories, private ones included: owners see them, members do not
  api.get<TeamParams>('/orgs/:org/teams/:team', async (request) => {
    const { org } = await manager(request, request.params.org);
    return teamJson(await team(org.name, request.params.team));
  });

  api.patch<TeamParams>('/orgs/:org/teams/:team', async (request) => {
    const { org } = await manager(request, request.params.org);
    const body = parseBody(UpdateTeam, request.body);
    await hub.teams.setDescription(org.name, request.params.team, body.description);
    return teamJson(await team(org.name, request.params.team));
  });

  api.delete<TeamParams>('/orgs/:org/teams/:team', async (request, reply) => {
    const { org } = await manager(request, request.params.org);
    await hub.teams.delete(org.name, request.params.team);
    return reply.code(204).send();
  });

  api.get<TeamParams>('/orgs/:org/teams/:team/members', async (request) => {
    const { org } = await member(request, request.params.org);
    const { members } = await team(org.name, request.params.team);
    return { results: members.map((username) => ({ username })), count: members.length };
  });

  api.post<TeamParams>('/orgs/:org/teams/:team/members', async (request, reply) => {
    const { org } = await manager(request, request.params.org);
    const body = parseBody(AddTeamMember, request.body);
    await hub.teams.addMember(org.name, request.params.team, body.username);
    return reply.code(201).send({ username: body.username });
  });

  api.put<TeamMemberParams>('/orgs/:org/teams/:team/members/:user', async (request) => {
    const { org } = await manager(request, request.params.org);
    await hub.teams.addMember(org.name, request.params.team, request.params.user);
    return { username: request.params.user };
  });

  api.delete<TeamMemberParams>('/orgs/:org/teams/:team/members/:user', async (request, reply) => {
    const { org } = await manager(request, request.params.org);
    await hub.teams.removeMember(org.name, request.params.team, request.params.user);
    return reply.code(204).send();
  });

  api.get<TeamParams>('/orgs/:org/teams/:team/permissions', async (request) => {
    const { org } = await manager(request, request.params.org);
    const { permissions } = await team(org.name, request.params.team);
    return { results: permissions, count: permissions.length };
  });

  api.put<PermissionParams>('/orgs/:org/teams/:team/permissions/:repository', async (request) => {
    const { org } = await manager(request, request.params.org);
    const body = parseBody(SetPermission, request.body);
    await requireFeature(org.name, 'team-permissions', 'a team permission');
    const repository = await hub.teams.setPermission(org.name, request.params.team, request.params.repository, body.permission);
    request.log.info({ organization: org.name, team: request.params.team, repository, permission: body.permission }, 'team permission set');
    return { repository, permission: body.permission };
  });

  api.delete<PermissionParams>('/orgs/:org/teams/:team/permissions/:repository', async (request, reply) => {
    const { org } = await manager(request, request.params.org);
    await hub.teams.removePermission(org.name, request.params.team, request.params.repository);
    return reply.code(204).send();
  });

  async function team(org: string, name: string): Promise<TeamDetails> {
    const found = await hub.teams.get(org, name);
    if (!found) throw notFound(`${org} has no team "${name}"`);
    return found;
  }

  // ---- organisation access tokens ----------------------------------------------------------------

  api.post<OrgParams>('/orgs/:org/tokens', async (request, reply) => {
    const { caller, org } = await manager(request, request.params.org);
    const body = parseBody(CreateToken, request.body);
    await requireFeature(org.name, 'organization-tokens', 'an organisation access token');
    let expiresAt: number | undefined;
    if (body.expires_in !== undefined && body.expires_in !== null) {
      const seconds = tokenLifetimeSeconds(body.expires_in);
      if (seconds === undefined) throw badRequest('expires_in: a whole number of seconds or a duration such as 30d or 12h, at most 5 years');
      expiresAt = ctx.clock.now() + seconds * 1000;
    }
    const { token, info } = await hub.tokens.createOrganizationToken(org.name, {
      label: body.label,
      scopes: body.scopes,
      repositories: body.repositories ?? null,
      expiresAt,
    });
    request.log.info({ organization: org.name, token: info.id, scopes: info.scopes, repositories: info.repositories, by: caller.account.name }, 'organisation access token created');
    // the secret is in this response only: it is kept as a hash
    return reply.code(201).send({ ...orgTokenJson(info), token });
  });

  api.get<OrgParams>('/orgs/:org/tokens', async (request) => {
    const { org } = await manager(request, request.params.org);
    const now = ctx.clock.now();
    const tokens = await hub.tokens.listOrganizationTokens(org.name);
    const results = tokens.map((t) => ({ ...orgTokenJson(t), expired: t.expiresAt !== null && t.expiresAt <= now }));
    return { results, count: results.length };
  });

  api.delete<{ Params: { org: string; id: string } }>('/orgs/:org/tokens/:id', async (request, reply) => {
    const { caller, org } = await manager(request, request.params.org);
    if (!(await hub.tokens.revokeOrganizationToken(org.name, request.params.id))) throw notFound('no such token');
    request.log.info({ organization: org.name, token: request.params.id, by: caller.account.name }, 'organisation access token revoked');
    return reply.code(204).send();
  });
}
