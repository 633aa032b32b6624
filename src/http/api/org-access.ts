import { z } from 'zod';
import type { Organization } from '../../hub/organizations.js';
import { OFFICIAL_NAMESPACE } from '../../oci/names.js';
import type { Caller } from './authenticate.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { forbidden, notFound } from './problem.js';
import { Timestamp } from './schemas.js';

/**
 * Who may do what to an organisation, shared by its routes (organisations, members, teams,
 * tokens). Owners (and administrators) manage it, with a password or a session: a leaked token
 * must not mint more. Members see its members and teams; anyone sees that it exists, and its badges.
 */

export const OrgPath = z.object({ org: z.string().meta({ description: 'the organisation' }) });

export const OrganizationSchema = z
  .object({
    name: z.string(),
    kind: z.literal('organization'),
    official: z.boolean().meta({ description: 'the official images (`library`)' }),
    verified_publisher: z.boolean(),
    plan: z.string(),
    default_private: z.boolean(),
    created_at: Timestamp,
    role: z.enum(['owner', 'member']).optional().meta({ description: "the caller's role, when a member" }),
  })
  .meta({ id: 'Organization' });

export function organizationJson(org: Organization, role?: string): z.output<typeof OrganizationSchema> {
  return {
    name: org.name,
    kind: 'organization' as const,
    official: org.official,
    verified_publisher: org.verifiedPublisher,
    plan: org.plan,
    default_private: org.defaultPrivate,
    created_at: iso(org.createdAt)!,
    ...(role !== undefined ? { role: role as 'owner' | 'member' } : {}),
  };
}

/** The organisation, or a 404 problem. */
export async function organization(ctx: ApiContext, name: string): Promise<Organization> {
  const org = await ctx.hub.organizations.get(name);
  if (!org) throw notFound(`no organisation "${name}"`);
  return org;
}

/** The organisation, when the caller owns it or is an administrator. */
export async function managed(ctx: ApiContext, caller: Caller, name: string): Promise<Organization> {
  const org = await organization(ctx, name);
  if (!(await ctx.hub.organizations.mayManage(name, caller.account))) {
    throw forbidden(name === OFFICIAL_NAMESPACE ? 'only administrators manage the official images' : `only an owner of ${name} may do this`);
  }
  return org;
}

/** The organisation, when the caller is a member of it (or an administrator). */
export async function membered(ctx: ApiContext, caller: Caller, name: string): Promise<Organization> {
  const org = await organization(ctx, name);
  // the organisation itself signs in only through its tokens: a token limited to some
  // repositories sees those, not the organisation's members, teams and permissions
  const self = caller.account.name === name && !caller.tokenRepositories;
  if (!caller.account.admin && !self && !(await ctx.hub.organizations.role(name, caller.account.name))) {
    throw forbidden(`only members of ${name} may see this`);
  }
  return org;
}
