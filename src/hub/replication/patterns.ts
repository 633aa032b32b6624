/**
 * Name and tag patterns of replication rules, as globs: `*` matches within one path component,
 * `**` across components, `?` one character. `alice/*` matches `alice/app` but not
 * `alice/team/app`; `alice/**` matches both; `v1.*` matches `v1.2` and `v1.2.3`.
 */
const REPOSITORY_PATTERN = /^[a-z0-9._\-/*?]{1,255}$/;
const TAG_PATTERN = /^[A-Za-z0-9_.\-*?]{1,128}$/;

export function repositoryPatternProblem(pattern: string): string | undefined {
  if (!REPOSITORY_PATTERN.test(pattern)) return `"${pattern.slice(0, 80)}" is not a repository pattern: lowercase names with / and the wildcards * ** ?`;
  return undefined;
}

export function tagPatternProblem(pattern: string): string | undefined {
  if (!TAG_PATTERN.test(pattern)) return `"${pattern.slice(0, 80)}" is not a tag pattern: tag characters and the wildcards * ?`;
  return undefined;
}

/** Whether a pattern has no wildcard: the name it stands for, which a registry without a catalog can still be asked about. */
export function isLiteral(pattern: string): boolean {
  return !/[*?]/.test(pattern);
}

export function matches(pattern: string, name: string, separator = '/'): boolean {
  return compile(pattern, separator).test(name);
}

export function matchesAny(patterns: readonly string[], name: string, separator = '/'): boolean {
  return patterns.some((pattern) => matches(pattern, name, separator));
}

const cache = new Map<string, RegExp>();

function compile(pattern: string, separator: string): RegExp {
  const key = `${separator}${pattern}`;
  let regex = cache.get(key);
  if (regex) return regex;
  const one = separator === '/' ? '[^/]' : '.';
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (char === '*') source += `${one}*`;
    else if (char === '?') source += one;
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  regex = new RegExp(`^${source}$`);
  if (cache.size > 1000) cache.clear();
  cache.set(key, regex);
  return regex;
}
