import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Subject } from '../auth/access-policy.js';
import { OFFICIAL_NAMESPACE } from '../oci/names.js';
import { ALL_REPOSITORIES } from './teams.js';

/**
 * "Visible to this subject" as a SQL predicate over `hub_repositories as h`, so that lists,
 * counts, paging and search filter inside the query (never after paging). It is the rule of
 * HubAccessPolicy.allowed(subject, name).has('pull'), written for a whole table at once;
 * visibility.test.ts holds the two to the same answers for every kind of subject.
 *   - anonymous: public repositories, unless pulling needs an account;
 *   - an administrator: everything;
 *   - an organisation token limited to some repositories: public ones and those;
 *   - any other account: public ones, its own namespace (nobody is `library`), the namespaces of
 *     the organisations it owns, and what its teams grant (a repository, or `*` for all) in
 *     `teamOrganizations`: those whose plan includes team permissions
 *     (HubAccessPolicy.teamOrganizationsOf).
 * `publicVisible` is false when pulling needs an account and the subject is anonymous.
 */
export function visibleTo(subject: Subject, publicVisible: boolean, teamOrganizations: readonly string[] = []): RawBuilder<SqlBool> {
  const isPublic = publicVisible ? sql<SqlBool>`h.private = 0` : sql<SqlBool>`1 = 0`;
  if (subject.kind === 'anonymous') return isPublic;
  if (subject.tokenRepositories !== undefined) {
    if (subject.tokenRepositories.length === 0) return isPublic;
    return sql<SqlBool>`(${isPublic} or (h.namespace = ${subject.name} and h.name in (${sql.join(subject.tokenRepositories.map((r) => sql`${r}`))})))`;
  }
  if (subject.admin) return sql<SqlBool>`1 = 1`;
  const me = subject.name;
  const own = me === OFFICIAL_NAMESPACE ? sql<SqlBool>`1 = 0` : sql<SqlBool>`h.namespace = ${me}`;
  const owned = sql<SqlBool>`h.namespace in (select o.organization from organization_members o where o.account = ${me} and o.role = 'owner')`;
  if (teamOrganizations.length === 0) return sql<SqlBool>`(${isPublic} or ${own} or ${owned})`;
  // team grants count in the organisations whose plan includes team permissions (the caller read them)
  const counted = sql.join(teamOrganizations.map((o) => sql`${o}`));
  return sql<SqlBool>`(${isPublic} or ${own} or ${owned}
    or h.namespace in (select p.organization from team_permissions p join team_members m on m.organization = p.organization and m.team = p.team
                       where m.account = ${me} and p.repository = ${ALL_REPOSITORIES} and p.organization in (${counted}))
    or h.name in (select p.repository from team_permissions p join team_members m on m.organization = p.organization and m.team = p.team
                  where m.account = ${me} and p.organization in (${counted})))`;
}

/** Whether public repositories are visible to this subject (pulling may need an account). */
export function publicVisibleTo(subject: Subject, pullRequiresLogin: boolean): boolean {
  return subject.kind === 'account' || !pullRequiresLogin;
}
