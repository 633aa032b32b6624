// A repository's pages live under /r/<namespace>/<name>; a name may hold several components
// (alice/team/app), so what follows the name comes after a `-` segment, which no name component
// can be (components start with a letter or a digit): /r/alice/team/app/-/tags/1.0.
import { seg } from '../../api/client';

export type RepositoryView = 'overview' | 'tags' | 'tag' | 'insights' | 'settings';

export interface RepositoryLocation {
  namespace: string;
  name: string;
  view: RepositoryView;
  tag?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** The page a path under /r/ names (the splat, without /r/), or undefined when it names none. */
export function parseRepositoryPath(splat: string): RepositoryLocation | undefined {
  const parts = splat.split('/').filter((p, i, all) => p !== '' || i < all.length - 1);
  const marker = parts.indexOf('-');
  const nameParts = marker === -1 ? parts : parts.slice(0, marker);
  const rest = marker === -1 ? [] : parts.slice(marker + 1);
  if (nameParts.length < 2 || !nameParts.every((p) => COMPONENT.test(p))) return undefined;
  const [namespace, ...name] = nameParts as [string, ...string[]];
  const base = { namespace, name: name.join('/') };
  if (marker === -1) return { ...base, view: 'overview' };
  if (rest.length === 1 && (rest[0] === 'tags' || rest[0] === 'insights' || rest[0] === 'settings')) return { ...base, view: rest[0] };
  if (rest.length === 2 && rest[0] === 'tags' && rest[1]) return { ...base, view: 'tag', tag: decodeURIComponent(rest[1]) };
  return undefined;
}

/** The UI path of a repository's page (or one of its tabs, or a tag's page). */
export function repositoryPath(namespace: string, name: string, view: RepositoryView = 'overview', tag?: string): string {
  const base = `/r/${namespace}/${name}`;
  if (view === 'overview') return base;
  if (view === 'tag') return `${base}/-/tags/${encodeURIComponent(tag ?? '')}`;
  return `${base}/-/${view}`;
}

/** The API path of a repository: its name's `/` encoded, as the contract says. */
export function repositoryApi(namespace: string, name: string): string {
  return `/repositories/${seg(namespace)}/${seg(name)}`;
}

/** What people type: `nginx` for an official image, else `namespace/name`. */
export function displayName(namespace: string, name: string): string {
  return namespace === 'library' ? name : `${namespace}/${name}`;
}

/** The pull command for this Pier: docker drops `library/` for official images, so do we. */
export function pullCommand(host: string, namespace: string, name: string, tag?: string): string {
  return `docker pull ${host}/${displayName(namespace, name)}${tag ? `:${tag}` : ''}`;
}
