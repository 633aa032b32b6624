/**
 * Account names are namespaces: one component of the spec's repository grammar, 2 to 30
 * characters. Words that name Pier's own routes or the official namespace are reserved, and so
 * are their look-alikes once separators are taken out (`lib-rary`, `li_brary`).
 */
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

const RESERVED = new Set([
  'library', 'official', 'v1', 'v2', 'api', 'token', 'tokens', 'auth', 'login', 'logout', 'signup', 'signin',
  'register', 'registry', 'admin', 'administrator', 'root', 'system', 'pier', 'docker', 'hub', 'help', 'about',
  'settings', 'account', 'accounts', 'user', 'users', 'org', 'orgs', 'organization', 'organizations', 'team',
  'teams', 'search', 'explore', 'static', 'assets', 'healthz', 'health', 'metrics', 'status', 'catalog', 'www',
  'support', 'security', 'billing', 'plans', 'new', 'null', 'undefined',
]);

export function accountNameProblem(name: string): string | undefined {
  if (name.length < 2 || name.length > 30) return 'a username has 2 to 30 characters';
  if (!NAME.test(name)) {
    return 'a username has lowercase letters, digits and single separators (. _ __ -) between them';
  }
  if (RESERVED.has(name) || RESERVED.has(name.replace(/[._-]/g, ''))) return `"${name}" is reserved`;
  return undefined;
}

/** The namespace a repository lives in: its first path component (`library` for official images). */
export function namespaceOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash === -1 ? repository : repository.slice(0, slash);
}
