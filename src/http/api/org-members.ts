import { z } from 'zod';
import type { OrganizationMember } from '../../hub/organizations.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { managed, membered, organization, OrgPath } from './org-access.js';
import { forbidden } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf, Timestamp } from './schemas.js';

const Role = z.enum(['owner', 'member']);
const AddMember = z.strictObject({ username: z.string(), role: Role.optional().meta({ description: 'default: member' }) });
const ChangeRole = z.strictObject({ role: Role });
const MemberPath = OrgPath.extend({ user: z.string() });

const Member = z.object({ username: z.string(), role: Role, since: Timestamp }).meta({ id: 'OrganizationMember' });

function memberJson(member: OrganizationMember): z.output<typeof Member> {
  return { username: member.account, role: member.role, since: iso(member.since)! };
}

/** An organisation's members and their roles; members see them, owners change them, anyone may leave. */
export function registerOrganizationMembers(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/orgs/{org}/members',
    summary: 'List an organisation’s members',
    tags: ['organizations'],
    auth: 'signed-in',
    params: OrgPath,
    responses: { 200: listOf(Member) },
    problems: ['not-found', 'forbidden'],
    handler: async ({ caller, params }) => {
      const org = await membered(ctx, caller, params.org);
      const members = await hub.organizations.members(org.name);
      return { results: members.map(memberJson), count: members.length };
    },
  });

  router.route({
    method: 'POST',
    path: '/orgs/{org}/members',
    summary: 'Add a member',
    tags: ['organizations'],
    auth: 'account',
    params: OrgPath,
    body: AddMember,
    responses: { 201: Member },
    problems: ['not-found', 'conflict', 'plan-limit'],
    handler: async ({ request, caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      const added = await hub.organizations.addMember(org.name, body.username, body.role ?? 'member');
      request.log.info({ organization: org.name, member: body.username, role: added.role, by: caller.account.name }, 'organisation member added');
      return memberJson(added);
    },
  });

  router.route({
    method: 'PATCH',
    path: '/orgs/{org}/members/{user}',
    summary: 'Change a member’s role',
    tags: ['organizations'],
    auth: 'account',
    params: MemberPath,
    body: ChangeRole,
    responses: { 200: Member },
    problems: ['not-found', 'conflict'],
    handler: async ({ request, caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      await hub.organizations.setRole(org.name, params.user, body.role);
      request.log.info({ organization: org.name, member: params.user, role: body.role, by: caller.account.name }, 'organisation role changed');
      const changed = (await hub.organizations.members(org.name)).find((m) => m.account === params.user)!;
      return memberJson(changed);
    },
  });

  router.route({
    method: 'DELETE',
    path: '/orgs/{org}/members/{user}',
    summary: 'Remove a member (a member may remove themselves)',
    tags: ['organizations'],
    auth: 'account',
    params: MemberPath,
    responses: { 204: null },
    problems: ['not-found', 'conflict'],
    handler: async ({ request, caller, params }) => {
      const org = await organization(ctx, params.org);
      // a member may always leave; removing someone else is an owner's
      if (params.user !== caller.account.name && !(await hub.organizations.mayManage(org.name, caller.account))) {
        throw forbidden(`only an owner of ${org.name} may remove members`);
      }
      await hub.organizations.removeMember(org.name, params.user);
      request.log.info({ organization: org.name, member: params.user, by: caller.account.name }, 'organisation member removed');
    },
  });

  router.route({
    method: 'POST',
    path: '/orgs/{org}/leave',
    summary: 'Leave an organisation',
    tags: ['organizations'],
    auth: 'account',
    params: OrgPath,
    responses: { 204: null },
    problems: ['not-found', 'conflict'],
    handler: async ({ request, caller, params }) => {
      const org = await organization(ctx, params.org);
      await hub.organizations.removeMember(org.name, caller.account.name);
      request.log.info({ organization: org.name, member: caller.account.name }, 'left the organisation');
    },
  });
}
