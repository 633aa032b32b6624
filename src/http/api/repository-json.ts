import { z } from 'zod';
import type { RepositoryDetail, RepositorySummary } from '../../hub/repository-pages.js';
import { CONTENT_TYPES } from '../../oci/content-types.js';
import { isValidRepositoryName } from '../../oci/names.js';
import { badRequest } from './problem.js';
import { OptionalTimestamp, Timestamp } from './schemas.js';

/**
 * A repository as the API shows it: Docker Hub's field names. The summary is what lists and
 * search show; the full repository adds its README.
 */
export const RepositorySummarySchema = z
  .object({
    namespace: z.string(),
    name: z.string().meta({ description: 'the part after the namespace (`team/app` of `alice/team/app`)' }),
    repository_type: z.enum(['image', 'artifact']).nullable().meta({ description: 'image: it holds images or indexes; artifact: only other manifests; null: nothing pushed yet' }),
    description: z.string().meta({ description: 'one line, at most 100 characters' }),
    is_private: z.boolean(),
    is_official: z.boolean(),
    is_verified_publisher: z.boolean(),
    star_count: z.number().int(),
    pull_count: z.number().int(),
    last_pulled: OptionalTimestamp,
    last_updated: OptionalTimestamp.meta({ description: 'the last push; null before the first' }),
    date_registered: Timestamp,
    storage_size: z.number().int().meta({ description: 'bytes of the distinct blobs its manifests refer to' }),
    media_types: z.array(z.string()),
    content_types: z.array(z.enum(CONTENT_TYPES as [string, ...string[]])),
    categories: z.array(z.object({ slug: z.string(), name: z.string() })),
    is_starred: z.boolean().meta({ description: 'whether the caller starred it (false when anonymous)' }),
    permissions: z.object({ read: z.boolean(), write: z.boolean(), admin: z.boolean() }).meta({ description: 'what the caller may do with it' }),
  })
  .meta({ id: 'RepositorySummary' });

export const RepositorySchema = RepositorySummarySchema.extend({
  full_description: z.string().meta({ description: 'the README (Markdown); the latest tag’s description annotation or label when the repository has none' }),
  readme_source: z.enum(['full_description', 'image']).nullable(),
}).meta({ id: 'Repository' });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function repositorySummaryJson(r: RepositorySummary): z.output<typeof RepositorySummarySchema> {
  return {
    namespace: r.namespace,
    name: r.name,
    repository_type: r.repositoryType,
    description: r.description,
    is_private: r.isPrivate,
    is_official: r.isOfficial,
    is_verified_publisher: r.isVerifiedPublisher,
    star_count: r.starCount,
    pull_count: r.pullCount,
    last_pulled: iso(r.lastPulledAt),
    last_updated: iso(r.lastUpdatedAt),
    date_registered: new Date(r.createdAt).toISOString(),
    storage_size: r.storageSize,
    media_types: r.mediaTypes,
    content_types: r.contentTypes,
    categories: r.categories,
    is_starred: r.isStarred,
    permissions: r.permissions,
  };
}

export function repositoryJson(r: RepositoryDetail): z.output<typeof RepositorySchema> {
  return { ...repositorySummaryJson(r), full_description: r.fullDescription, readme_source: r.readmeSource };
}

/** `{namespace}` and `{name}` of a path: a name of several components arrives with its `/` encoded (%2F). */
export const RepositoryPath = z.object({
  namespace: z.string().meta({ description: 'a user or an organisation; `library` for the official images' }),
  name: z.string().meta({ description: 'the repository inside its namespace; `/` inside it encoded as %2F (`team%2Fapp`)' }),
});

/** The full name a path names, or a 400 when it cannot be a repository. */
export function repositoryOf(params: { namespace: string; name: string }): string {
  const full = `${params.namespace}/${params.name}`;
  if (params.namespace.includes('/') || !isValidRepositoryName(full)) {
    throw badRequest('not a valid repository name', [{ field: 'name', message: 'not a valid repository name' }]);
  }
  return full;
}
