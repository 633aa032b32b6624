import { z } from 'zod';
import type { AuditEntry, AuditFilter } from '../../hub/audit.js';
import type { Caller } from './authenticate.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { pageOf, paged, PageQuery, pageWindow } from './paging.js';
import { badRequest, forbidden } from './problem.js';
import type { ApiRouter } from './route.js';
import { Timestamp } from './schemas.js';

export const AuditEntrySchema = z
  .object({
    id: z.string(),
    at: Timestamp,
    actor: z.string().nullable().meta({ description: 'the account that acted; null: anonymous' }),
    via: z.string().nullable().meta({ description: 'password, pat, session, browser, cli' }),
    action: z.string().meta({ description: 'login, token.created, member.added, repository.visibility, plan.changed, admin.user.deleted...' }),
    target: z.string().nullable(),
    namespace: z.string().nullable(),
    result: z.enum(['ok', 'failed', 'refused']),
    address: z.string().nullable().meta({ description: 'the client’s address (X-Forwarded-For only from trusted proxies)' }),
    user_agent: z.string().nullable(),
    request_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'AuditEntry' });

const AuditQuery = PageQuery.extend({
  actor: z.string().optional(),
  action: z.string().optional().meta({ description: 'an action, or a prefix ending in a dot (`token.`)' }),
  namespace: z.string().optional().meta({ description: 'an account or organisation: its owners may read it' }),
  since: z.string().optional().meta({ description: 'ISO 8601: entries at or after' }),
  until: z.string().optional().meta({ description: 'ISO 8601: entries before' }),
});

/**
 * The audit log through the API: administrators read everything; anyone else reads what concerns
 * their own account (what they did, what was done to it) and the entries of organisations they
 * own. The same filters as `pier audit export`.
 */
export function registerAudit(router: ApiRouter, ctx: ApiContext): void {
  router.route({
    method: 'GET',
    path: '/audit',
    summary: 'The audit log: who did what, when, from where, with what result',
    description:
      'Administrators read every entry; an account reads its own (what it did and what was done to it) and those of the organisations it owns. ' +
      'Filtered by actor, action (or a prefix such as `token.`), namespace and time; newest first.',
    tags: ['audit'],
    auth: 'signed-in',
    query: AuditQuery,
    responses: { 200: paged(AuditEntrySchema) },
    problems: ['forbidden'],
    handler: async ({ caller, query, request }) => {
      const filter = await readableFilter(ctx, caller, query);
      const { count, entries } = await ctx.hub.audit.page(filter, pageWindow(query));
      return pageOf(request, query, count, entries.map(auditJson));
    },
  });
}

async function readableFilter(ctx: ApiContext, caller: Caller, query: z.output<typeof AuditQuery>): Promise<AuditFilter> {
  const filter: AuditFilter = {
    ...(query.actor !== undefined ? { actor: query.actor } : {}),
    ...(query.action !== undefined ? { action: query.action } : {}),
    ...(query.namespace !== undefined ? { namespace: query.namespace } : {}),
    ...(query.since !== undefined ? { since: time(query.since, 'since') } : {}),
    ...(query.until !== undefined ? { until: time(query.until, 'until') } : {}),
  };
  // an organisation token, or a token limited to repositories, reads nothing here
  if (caller.tokenRepositories) throw forbidden('an organisation access token does not read the audit log');
  if (caller.tokenScopes && !caller.tokenScopes.includes('repo:admin')) throw forbidden('reading the audit log needs a token with the repo:admin scope');
  if (caller.account.admin) return filter;
  const self = caller.account.name;
  const owned = (await ctx.hub.organizations.ofAccount(self)).filter((m) => m.role === 'owner').map((m) => m.organization);
  if (query.namespace !== undefined && query.namespace !== self && !owned.includes(query.namespace)) {
    throw forbidden(`only owners of ${query.namespace} and administrators read its audit log`);
  }
  return { ...filter, scope: { namespaces: [self, ...owned], actors: [self] } };
}

function time(value: string, field: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(`${field}: not a date`, [{ field, message: 'expected ISO 8601, such as 2026-01-31T12:00:00Z' }]);
  return ms;
}

export function auditJson(entry: AuditEntry): z.output<typeof AuditEntrySchema> {
  return {
    id: entry.id,
    at: iso(entry.at)!,
    actor: entry.actor,
    via: entry.via,
    action: entry.action,
    target: entry.target,
    namespace: entry.namespace,
    result: entry.result,
    address: entry.address,
    user_agent: entry.userAgent,
    request_id: entry.requestId,
    details: entry.details,
  };
}
