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
  'support', 'security', 'billing', 'plans', 'new', 'null', 'undefined', 'me', 'sessions',
]);

/**
 * Words nobody may pass for, even spelt with digits for letters (`1ibrary`, `0fficial`), and that
 * no name may contain: the official namespace and the registry's own voice.
 */
const IMPERSONATED = ['library', 'official', 'docker', 'pier', 'admin', 'administrator', 'root', 'system', 'support', 'security', 'verified'];
const NEVER_CONTAINED = ['library', 'official', 'verified'];
const LOOKS_LIKE: Record<string, string> = { '0': 'o', '1': 'l', i: 'l', '3': 'e', '4': 'a', '5': 's', '7': 't', '8': 'b', '9': 'g' };

/** What a name looks like once separators are gone and digits read as the letters they resemble. */
function skeleton(name: string): string {
  return name.replace(/[._-]/g, '').replace(/[0-9i]/g, (c) => LOOKS_LIKE[c] ?? c);
}

const IMPERSONATED_SKELETONS = new Set(IMPERSONATED.map(skeleton));
const NEVER_CONTAINED_SKELETONS = NEVER_CONTAINED.map(skeleton);

export function accountNameProblem(name: string, what = 'a username'): string | undefined {
  if (name.length < 2 || name.length > 30) return `${what} has 2 to 30 characters`;
  if (!NAME.test(name)) {
    return `${what} has lowercase letters, digits and single separators (. _ __ -) between them`;
  }
  if (RESERVED.has(name) || RESERVED.has(name.replace(/[._-]/g, ''))) return `"${name}" is reserved`;
  const look = skeleton(name);
  if (IMPERSONATED_SKELETONS.has(look) || NEVER_CONTAINED_SKELETONS.some((word) => look.includes(word))) {
    return `"${name}" is reserved: it looks like an official or verified namespace`;
  }
  return undefined;
}
