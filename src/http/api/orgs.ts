import { z } from 'zod';
import { badRequest, forbidden } from './problem.js';
import type { ApiContext } from './context.js';
import { managed, organization, organizationJson, OrganizationSchema, OrgPath } from './org-access.js';
import type { ApiRouter } from './route.js';
import { listOf } from './schemas.js';
import { confirmSession, DeletedRepositories } from './users.js';

const CreateOrganization = z.strictObject({
  name: z.string(),
  owner: z.string().optional().meta({ description: 'its first owner (an administrator may name someone else); default: the caller' }),
});
const UpdateOrganization = z
  .strictObject({ default_private: z.boolean().optional() })
  .refine((v) => v.default_private !== undefined, { message: 'nothing to change: send default_private' });
const SetVerified = z.strictObject({ verified: z.boolean() });
const DeleteOrganization = z.strictObject({
  confirm: z.string().meta({ description: 'the organisation name, as a confirmation' }),
  password: z.string().optional().meta({ description: "the caller's password: required when the caller is a session" }),
});

/** Organisations themselves: create, list the caller's, read, change, delete, verified publisher. */
export function registerOrganizations(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'POST',
    path: '/orgs',
    summary: 'Create an organisation',
    tags: ['organizations'],
    auth: 'account',
    body: CreateOrganization,
    responses: { 201: OrganizationSchema },
    problems: ['conflict', 'not-found'],
    handler: async ({ request, caller, body }) => {
      if (caller.account.kind !== 'user') throw forbidden('only users create organisations');
      const owner = body.owner ?? caller.account.name;
      if (owner !== caller.account.name && !caller.account.admin) throw forbidden('only an administrator creates an organisation for someone else');
      const org = await hub.organizations.create(body.name, owner);
      request.log.info({ organization: org.name, owner, by: caller.account.name }, 'organisation created');
      return organizationJson(org, owner === caller.account.name ? 'owner' : undefined);
    },
  });

  router.route({
    method: 'GET',
    path: '/orgs',
    summary: 'The organisations the caller is a member of',
    tags: ['organizations'],
    auth: 'signed-in',
    responses: { 200: listOf(OrganizationSchema) },
    handler: async ({ caller }) => {
      const memberships = await hub.organizations.ofAccount(caller.account.name);
      const results = [];
      for (const { organization: name, role } of memberships) {
        const org = await hub.organizations.get(name);
        if (org) results.push(organizationJson(org, role));
      }
      return { results, count: results.length };
    },
  });

  router.route({
    method: 'GET',
    path: '/orgs/{org}',
    summary: 'An organisation, with the caller’s role in it',
    tags: ['organizations'],
    auth: 'optional',
    params: OrgPath,
    responses: { 200: OrganizationSchema },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const org = await organization(ctx, params.org);
      const role = caller ? await hub.organizations.role(org.name, caller.account.name) : undefined;
      return organizationJson(org, role);
    },
  });

  router.route({
    method: 'PATCH',
    path: '/orgs/{org}',
    summary: 'Change an organisation’s settings',
    tags: ['organizations'],
    auth: 'account',
    params: OrgPath,
    body: UpdateOrganization,
    responses: { 200: OrganizationSchema },
    problems: ['not-found'],
    handler: async ({ caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      if (body.default_private !== undefined) await hub.organizations.setDefaultPrivate(org.name, body.default_private);
      return organizationJson((await hub.organizations.get(org.name))!);
    },
  });

  router.route({
    method: 'DELETE',
    path: '/orgs/{org}',
    summary: 'Delete an organisation and all its repositories',
    description: 'A session (a browser left open) must send the password again, as for deleting an account.',
    tags: ['organizations'],
    auth: 'account',
    params: OrgPath,
    body: DeleteOrganization,
    responses: { 200: z.object({ name: z.string(), repositories: DeletedRepositories }) },
    problems: ['not-found'],
    handler: async ({ request, caller, params, body }) => {
      const org = await managed(ctx, caller, params.org);
      if (body.confirm !== org.name) throw badRequest(`to delete the organisation and all its repositories, send {"confirm": "${org.name}"}`);
      await confirmSession(request, ctx, caller.via, caller.account.name, body.password, 'the organisation');
      const { repositories } = await hub.deleteAccount(org.name, ctx.registry);
      request.log.info({ organization: org.name, repositories: repositories.length, by: caller.account.name }, 'organisation deleted');
      return { name: org.name, repositories: { results: repositories, count: repositories.length } };
    },
  });

  router.route({
    method: 'PUT',
    path: '/orgs/{org}/verified',
    summary: 'Mark an organisation as a verified publisher, or not',
    tags: ['organizations'],
    auth: 'admin',
    params: OrgPath,
    body: SetVerified,
    responses: { 200: OrganizationSchema },
    problems: ['not-found'],
    handler: async ({ request, caller, params, body }) => {
      await hub.organizations.setVerifiedPublisher(params.org, body.verified);
      request.log.info({ organization: params.org, verified: body.verified, by: caller.account.name }, 'verified publisher changed');
      return organizationJson(await organization(ctx, params.org));
    },
  });
}
