import { OciError } from './errors.js';
import { isDigestLike, parseDigest, truncate, type Digest } from './digest.js';

/**
 * Repository names and references, with the one decision Docker Hub made: a one-part name is an
 * official image, so `nginx` means `library/nginx` everywhere (URL paths, mounts, catalog, scopes).
 */
export const OFFICIAL_NAMESPACE = 'library';
export const NAME_MAX_LENGTH = 255;

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export type RepositoryName = string & { readonly __repository: unique symbol };

export function isValidRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= NAME_MAX_LENGTH && NAME.test(name);
}

/** Validates a name from a request and applies the official-image rule. Throws NAME_INVALID. */
export function normalizeRepositoryName(name: string): RepositoryName {
  if (!isValidRepositoryName(name)) {
    throw new OciError('NAME_INVALID', `invalid repository name "${truncate(name)}"`);
  }
  const full = name.includes('/') ? name : `${OFFICIAL_NAMESPACE}/${name}`;
  if (full.length > NAME_MAX_LENGTH) throw new OciError('NAME_INVALID', 'repository name too long');
  return full as RepositoryName;
}

/** The namespace a repository lives in: its first path component (`library` for official images). */
export function namespaceOf(repository: string): string {
  const slash = repository.indexOf('/');
  return slash === -1 ? repository : repository.slice(0, slash);
}

/**
 * The repositories of `namespace` as a key range, `from` (included) to `to` (excluded): the names
 * that start with "namespace/" ('0' is the byte after '/'). A range, not LIKE (`_` is a wildcard
 * there), which both databases answer from an index on the name.
 */
export function namespaceRange(namespace: string): { from: string; to: string } {
  return { from: `${namespace}/`, to: `${namespace}0` };
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function parseTag(tag: string): string {
  if (!isValidTag(tag)) throw new OciError('TAG_INVALID', `invalid tag "${truncate(tag)}"`);
  return tag;
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

/** A manifest reference is a digest when it has a colon (tags never do), a tag otherwise. */
export function parseReference(reference: string): Reference {
  if (isDigestLike(reference)) return { kind: 'digest', digest: parseDigest(reference) };
  return { kind: 'tag', tag: parseTag(reference) };
}
