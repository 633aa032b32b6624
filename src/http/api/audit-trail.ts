import { HubError } from '../../hub/errors.js';
import type { AuditResult } from '../../hub/audit.js';
import type { Caller } from './authenticate.js';
import { ApiProblem } from './problem.js';

/** What the router knows of a request when it writes its audit entry. */
export interface AuditInput {
  caller?: Caller;
  params: Record<string, string>;
  /** the validated query (what a DELETE says in it: an immutable tag rule's pattern) */
  query: Record<string, unknown>;
  body: Record<string, unknown>;
  /** the answer's body (a created token's id) */
  result?: unknown;
}

interface Audited {
  /** the action, or what decides it from the request */
  action: string | ((input: AuditInput) => string);
  /** what it acted on (default: the path's parameters joined by `/`) */
  target?: (input: AuditInput) => string | undefined;
  /** the namespace whose owners read it (default: the path's org, namespace or the caller's own account) */
  namespace?: (input: AuditInput) => string | undefined;
  /** the actor when there is no caller yet (signing in: the username sent) */
  actor?: (input: AuditInput) => string | undefined;
  /** what else says what happened; never a secret: only fields named here are kept */
  details?: (input: AuditInput) => Record<string, unknown> | undefined;
}

const pick = (body: Record<string, unknown>, ...fields: string[]) => {
  const kept = Object.fromEntries(fields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]));
  return Object.keys(kept).length > 0 ? kept : undefined;
};
const changed = ({ body }: AuditInput) => ({ fields: Object.keys(body).filter((k) => k !== 'password' && k !== 'confirm') });
const repository = ({ params }: AuditInput) => `${params.namespace}/${params.name}`;
const resultId = ({ result }: AuditInput) => (result && typeof result === 'object' && 'id' in result ? String((result as { id: unknown }).id) : undefined);
const dryRun = ({ result }: AuditInput) => (result && typeof result === 'object' && 'dry_run' in result ? { dry_run: (result as { dry_run: unknown }).dry_run } : undefined);
const signIn: Audited = {
  action: 'login',
  actor: ({ body }) => (typeof body.username === 'string' ? body.username.toLowerCase() : undefined),
  target: ({ body }) => (typeof body.username === 'string' ? body.username.toLowerCase() : undefined),
  namespace: ({ body }) => (typeof body.username === 'string' ? body.username.toLowerCase() : undefined),
};
const webhooks = (base: string, scope: (input: AuditInput) => string): Record<string, Audited> => ({
  [`POST ${base}`]: { action: 'webhook.created', target: (i) => `${scope(i)} ${resultId(i) ?? ''}`.trim(), details: ({ body }) => pick(body, 'name', 'url', 'events', 'active') },
  [`PATCH ${base}/{id}`]: { action: 'webhook.changed', target: (i) => `${scope(i)} ${i.params.id}`, details: ({ body }) => pick(body, 'name', 'url', 'events', 'active') },
  [`DELETE ${base}/{id}`]: { action: 'webhook.deleted', target: (i) => `${scope(i)} ${i.params.id}` },
  [`POST ${base}/{id}/secret`]: { action: 'webhook.secret_rotated', target: (i) => `${scope(i)} ${i.params.id}` },
  [`POST ${base}/{id}/deliveries/{delivery}/redeliver`]: { action: 'webhook.redelivered', target: (i) => `${scope(i)} ${i.params.id}`, details: ({ params }) => ({ delivery: params.delivery }) },
});

/**
 * Every state-changing route of /api/v1 and the audit entry it writes: one table, so that a new
 * route is a decision here (src/http/api/audit-trail.test.ts fails on a route missing from it).
 * Entries are written by the router, after the handler, with the caller, the client's address,
 * its user agent and the request id, and the result: ok, refused (authentication, permission,
 * plan) or failed.
 */
export const AUDITED: Record<string, Audited | null> = {
  'POST /users': { action: 'account.created', actor: signIn.actor, target: signIn.target, namespace: signIn.namespace },
  'POST /users/login': signIn,
  'POST /sessions': { ...signIn, details: () => ({ browser: true }) },
  'DELETE /sessions/current': { action: 'logout' },
  'DELETE /users/me/sessions/{id}': { action: 'session.revoked' },
  'PATCH /users/me': { action: 'account.changed', details: changed },
  'PUT /users/me/password': { action: 'password.changed' },
  'DELETE /users/me': { action: 'account.deleted' },
  'POST /users/me/tokens': { action: 'token.created', target: resultId, details: ({ body }) => pick(body, 'label', 'scopes', 'expires_at') },
  'DELETE /users/me/tokens/{id}': { action: 'token.revoked' },

  'PATCH /users/{username}': { action: 'admin.user.changed', namespace: ({ params }) => params.username, details: changed },
  'PUT /users/{username}/password': { action: 'admin.user.password_set', namespace: ({ params }) => params.username },
  'DELETE /users/{username}': { action: 'admin.user.deleted', namespace: ({ params }) => params.username },

  'POST /orgs': { action: 'organization.created', target: ({ body }) => String(body.name), namespace: ({ body }) => String(body.name) },
  'PATCH /orgs/{org}': { action: 'organization.changed', details: changed },
  'DELETE /orgs/{org}': { action: 'organization.deleted' },
  'PUT /orgs/{org}/verified': { action: 'admin.organization.verified', details: ({ body }) => pick(body, 'verified') },
  'POST /orgs/{org}/members': { action: 'member.added', target: ({ params, body }) => `${params.org}/${String(body.username)}`, details: ({ body }) => pick(body, 'role') },
  'PATCH /orgs/{org}/members/{user}': { action: 'member.role_changed', details: ({ body }) => pick(body, 'role') },
  'DELETE /orgs/{org}/members/{user}': { action: 'member.removed' },
  'POST /orgs/{org}/leave': { action: 'member.left', target: ({ params, caller }) => `${params.org}/${caller?.account.name ?? ''}` },
  'POST /orgs/{org}/tokens': { action: 'token.created', target: (i) => `${i.params.org} ${resultId(i) ?? ''}`.trim(), details: ({ body }) => pick(body, 'label', 'scopes', 'repositories', 'expires_at') },
  'DELETE /orgs/{org}/tokens/{id}': { action: 'token.revoked' },
  'POST /orgs/{org}/teams': { action: 'team.created', target: ({ params, body }) => `${params.org}/${String(body.name)}` },
  'PATCH /orgs/{org}/teams/{team}': { action: 'team.changed' },
  'DELETE /orgs/{org}/teams/{team}': { action: 'team.deleted' },
  'POST /orgs/{org}/teams/{team}/members': { action: 'team.member_added', target: ({ params, body }) => `${params.org}/${params.team}/${String(body.username)}` },
  'PUT /orgs/{org}/teams/{team}/members/{user}': { action: 'team.member_added' },
  'DELETE /orgs/{org}/teams/{team}/members/{user}': { action: 'team.member_removed' },
  'PUT /orgs/{org}/teams/{team}/permissions/{repository}': { action: 'team.permission_changed', details: ({ body }) => pick(body, 'permission') },
  'DELETE /orgs/{org}/teams/{team}/permissions/{repository}': { action: 'team.permission_removed' },

  'PUT /namespaces/{namespace}/plan': { action: 'plan.changed', details: ({ body }) => pick(body, 'plan') },
  'POST /namespaces/{namespace}/repositories': { action: 'repository.created', target: ({ params, body }) => `${params.namespace}/${String(body.name)}`, details: ({ body }) => pick(body, 'is_private') },
  'PATCH /repositories/{namespace}/{name}': {
    // making a repository public or private is its own action: what a review asks about
    action: ({ body }) => (body.is_private !== undefined ? 'repository.visibility' : 'repository.changed'),
    target: repository,
    details: (i) => ({ ...changed(i), ...pick(i.body, 'is_private') }),
  },
  'DELETE /repositories/{namespace}/{name}': { action: 'repository.deleted', target: repository },
  'DELETE /repositories/{namespace}/{name}/tags/{tag}': { action: 'tag.deleted', target: ({ params }) => `${params.namespace}/${params.name}:${params.tag}` },
  'DELETE /repositories/{namespace}/{name}/manifests/{digest}': { action: 'manifest.deleted', target: ({ params }) => `${params.namespace}/${params.name}@${params.digest}` },
  'POST /repositories/{namespace}/{name}/immutable-tags': { action: 'immutable_tag_rule.created', target: repository, details: ({ body }) => pick(body, 'pattern') },
  'DELETE /repositories/{namespace}/{name}/immutable-tags': { action: 'immutable_tag_rule.deleted', target: repository, details: ({ query }) => pick(query, 'pattern') },
  'PUT /repositories/{namespace}/{name}/retention': { action: 'retention_policy.changed', target: repository, details: ({ body }) => pick(body, 'keep_last', 'keep_pulled_days', 'keep_pattern') },
  'DELETE /repositories/{namespace}/{name}/retention': { action: 'retention_policy.deleted', target: repository },
  // who asked; each tag it deleted has its own entry (via retention, with the reason)
  'POST /repositories/{namespace}/{name}/retention/run': { action: 'retention.run', target: repository, details: dryRun },
  'PUT /namespaces/{namespace}/retention': { action: 'retention_policy.changed', details: ({ body }) => pick(body, 'keep_last', 'keep_pulled_days', 'keep_pattern') },
  'DELETE /namespaces/{namespace}/retention': { action: 'retention_policy.deleted' },
  'POST /namespaces/{namespace}/retention/run': { action: 'retention.run', details: dryRun },
  ...webhooks('/repositories/{namespace}/{name}/webhooks', repository),
  ...webhooks('/orgs/{org}/webhooks', ({ params }) => params.org!),

  'PUT /settings': { action: 'settings.changed', target: () => 'settings', namespace: () => undefined, details: changed },
  'PUT /settings/pull-limits': { action: 'settings.changed', target: () => 'pull-limits', namespace: () => undefined, details: changed },
  'PUT /plans/{name}': { action: 'admin.plan.changed', namespace: () => undefined, details: changed },
  'POST /categories': { action: 'admin.category.created', target: ({ body }) => String(body.slug ?? body.name), namespace: () => undefined },
  'DELETE /categories/{slug}': { action: 'admin.category.deleted', namespace: () => undefined },
  'POST /proxies': { action: 'admin.proxy.created', target: ({ body }) => String(body.namespace), namespace: () => undefined, details: ({ body }) => pick(body, 'url', 'username', 'visibility') },
  'PATCH /proxies/{namespace}': { action: 'admin.proxy.changed', namespace: () => undefined, details: changed },
  'DELETE /proxies/{namespace}': { action: 'admin.proxy.deleted', namespace: () => undefined },
  'POST /replication/rules': { action: 'admin.replication.created', target: ({ body }) => String(body.name), namespace: () => undefined, details: ({ body }) => pick(body, 'direction', 'url', 'repositories') },
  'PATCH /replication/rules/{name}': { action: 'admin.replication.changed', namespace: () => undefined, details: changed },
  'DELETE /replication/rules/{name}': { action: 'admin.replication.deleted', namespace: () => undefined },
  // a collection deletes content: who ran it, and how (its report is in GET /admin/gc/runs)
  'POST /admin/gc': { action: 'admin.gc', target: () => 'gc', namespace: () => undefined, details: ({ body }) => pick(body, 'dry_run', 'untagged', 'grace_seconds') },
  // a star is a bookmark, not a security matter
  'PUT /repositories/{namespace}/{name}/star': null,
  'DELETE /repositories/{namespace}/{name}/star': null,
  // a run requested by hand changes nothing a review asks about: its record is the run itself
  'POST /replication/rules/{name}/runs': null,
};

export interface AuditRecord {
  action: string;
  actor: string | null;
  via: string | null;
  target: string | null;
  namespace: string | null;
  result: AuditResult;
  details: Record<string, unknown> | null;
}

/** The entry a request to `route` writes (undefined: none), given what it was and how it ended. */
export function auditRecordOf(method: string, path: string, input: AuditInput, error?: unknown): AuditRecord | undefined {
  const spec = AUDITED[`${method} ${path}`];
  if (!spec) return undefined;
  const { caller, params } = input;
  const actor = caller?.account.name ?? spec.actor?.(input) ?? null;
  const defaultTarget = Object.values(params).join('/') || actor || undefined;
  const defaultNamespace = params.org ?? params.namespace ?? caller?.account.name;
  const safe = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    action: typeof spec.action === 'string' ? spec.action : spec.action(input),
    actor,
    via: caller?.via ?? null,
    target: (spec.target ? safe(() => spec.target!(input)) : defaultTarget) ?? null,
    namespace: (spec.namespace ? safe(() => spec.namespace!(input)) : defaultNamespace) ?? null,
    result: error === undefined ? 'ok' : resultOf(error, spec.action === 'login'),
    details: (spec.details && safe(() => spec.details!(input))) ?? null,
  };
}

/** A refusal (authentication, permission, plan, throttle) or a failure. */
export function resultOf(error: unknown, signingIn = false): AuditResult {
  // a wrong password is a failed sign-in; a throttled one is refused
  if (signingIn && error instanceof ApiProblem && error.kind === 'unauthorized') return 'failed';
  if (error instanceof ApiProblem) return ['unauthorized', 'forbidden', 'plan-limit', 'csrf', 'too-many-requests'].includes(error.kind) ? 'refused' : 'failed';
  if (error instanceof HubError) return ['unauthorized', 'forbidden', 'plan_limit', 'too_many_requests'].includes(error.kind) ? 'refused' : 'failed';
  return 'failed';
}
