import { z } from 'zod';
import { TAG_ORDERINGS, type ImageDetail, type TagImage, type TagSummary } from '../../hub/tag-pages.js';
import { CONTENT_TYPES } from '../../oci/content-types.js';
import { isValidTag, type RepositoryName } from '../../oci/names.js';
import { subjectOf } from './authenticate.js';
import type { ApiContext } from './context.js';
import { forbidden, notFound } from './problem.js';
import { pageOf, paged, PageQuery } from './paging.js';
import { readable } from './repositories.js';
import { RepositoryPath } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';
import { OptionalTimestamp, Timestamp } from './schemas.js';

const TagPath = RepositoryPath.extend({ tag: z.string() });

const TagsQuery = PageQuery.extend({
  ordering: z.enum(TAG_ORDERINGS).default('name'),
  name: z.string().max(128).optional().meta({ description: 'a part of the tag' }),
});

export const TagImageSchema = z.object({
  architecture: z.string().nullable(),
  os: z.string().nullable(),
  variant: z.string().nullable(),
  digest: z.string(),
  size: z.number().int().meta({ description: 'config and layers' }),
  last_pushed: OptionalTimestamp,
});

const TagSchema = z
  .object({
    name: z.string(),
    digest: z.string(),
    media_type: z.string(),
    content_type: z.enum(CONTENT_TYPES as [string, ...string[]]),
    full_size: z.number().int().meta({ description: 'an image: config + layers; an index: the sum of its platforms' }),
    last_pushed: Timestamp,
    last_pulled: OptionalTimestamp,
    pull_count: z.number().int(),
    last_updater_username: z.string().nullable().meta({ description: 'who pushed it last; null when pushed anonymously or before Pier recorded it' }),
    tag_status: z.enum(['active', 'inactive']).meta({ description: 'inactive: neither pushed nor pulled for a month' }),
    images: z.array(TagImageSchema).meta({ description: 'one per platform' }),
  })
  .meta({ id: 'Tag' });

const LayerSchema = z.object({
  digest: z.string().nullable().meta({ description: 'null for a build step that added no layer' }),
  size: z.number().int(),
  media_type: z.string().nullable(),
  instruction: z.string().nullable().meta({ description: 'the build step from the config’s history; null when unknown (artifacts)' }),
  empty_layer: z.boolean(),
});

const ImageSchema = z
  .object({
    architecture: z.string().nullable(),
    os: z.string().nullable(),
    variant: z.string().nullable(),
    digest: z.string(),
    size: z.number().int(),
    config_digest: z.string().nullable(),
    created: OptionalTimestamp,
    layers: z.array(LayerSchema),
  })
  .meta({ id: 'Image' });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function tagJson(tag: TagSummary): z.output<typeof TagSchema> {
  return {
    name: tag.name,
    digest: tag.digest,
    media_type: tag.mediaType,
    content_type: tag.contentType,
    full_size: tag.fullSize,
    last_pushed: new Date(tag.lastPushedAt).toISOString(),
    last_pulled: iso(tag.lastPulledAt),
    pull_count: tag.pullCount,
    last_updater_username: tag.lastUpdater,
    tag_status: tag.status,
    images: tag.images.map(tagImageJson),
  };
}

export function tagImageJson(i: TagImage): z.output<typeof TagImageSchema> {
  return { architecture: i.architecture, os: i.os, variant: i.variant, digest: i.digest, size: i.size, last_pushed: iso(i.lastPushedAt) };
}

function imageJson(image: ImageDetail): z.output<typeof ImageSchema> {
  return {
    architecture: image.architecture,
    os: image.os,
    variant: image.variant,
    digest: image.digest,
    size: image.size,
    config_digest: image.configDigest,
    created: iso(image.created),
    layers: image.layers.map((l) => ({ digest: l.digest, size: l.size, media_type: l.mediaType, instruction: l.instruction, empty_layer: l.emptyLayer })),
  };
}

/** A repository's tags: each with its platforms; one tag's images layer by layer; deleting a tag. */
export function registerTags(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/repositories/{namespace}/{name}/tags',
    summary: 'A repository’s tags, with their platforms and sizes',
    tags: ['tags'],
    auth: 'optional',
    params: RepositoryPath,
    query: TagsQuery,
    responses: { 200: paged(TagSchema) },
    problems: ['not-found'],
    handler: async ({ request, caller, params, query }) => {
      const name = await readable(ctx, caller, params);
      const found = await hub.tags.list(subjectOf(caller), name, { page: query.page, pageSize: query.page_size, ordering: query.ordering, name: query.name });
      return pageOf(request, query, found.count, found.results.map(tagJson));
    },
  });

  router.route({
    method: 'GET',
    path: '/repositories/{namespace}/{name}/tags/{tag}',
    summary: 'A tag',
    tags: ['tags'],
    auth: 'optional',
    params: TagPath,
    responses: { 200: TagSchema },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const name = await readable(ctx, caller, params);
      return tagJson(await hub.tags.get(subjectOf(caller), name, params.tag));
    },
  });

  router.route({
    method: 'GET',
    path: '/repositories/{namespace}/{name}/tags/{tag}/images',
    summary: 'A tag’s images, one per platform, layer by layer with the build steps of their configs',
    tags: ['tags'],
    auth: 'optional',
    params: TagPath,
    responses: { 200: z.array(ImageSchema) },
    problems: ['not-found'],
    handler: async ({ caller, params }) => {
      const name = await readable(ctx, caller, params);
      return (await hub.tags.images(subjectOf(caller), name, params.tag)).map(imageJson);
    },
  });

  router.route({
    method: 'DELETE',
    path: '/repositories/{namespace}/{name}/tags/{tag}',
    summary: 'Delete a tag (its manifest stays, reachable by digest)',
    description: 'Delete permission on the repository, as for a registry DELETE: the owner, an owner of its organisation, a team with admin on it, an administrator; a token needs repo:delete.',
    tags: ['tags'],
    auth: 'signed-in',
    params: TagPath,
    responses: { 204: null },
    problems: ['not-found', 'forbidden'],
    handler: async ({ request, caller, params }) => {
      const name = await readable(ctx, caller, params);
      if (!(await hub.policy.allowed(subjectOf(caller), name)).has('delete')) throw forbidden(`deleting tags of ${name} needs delete permission on it`);
      if (!isValidTag(params.tag)) throw notFound(`tag "${params.tag}" not found in ${name}`);
      try {
        await ctx.registry.manifests.delete(name as RepositoryName, params.tag, { account: caller.account.name });
      } catch (error) {
        if ((error as { code?: string }).code === 'MANIFEST_UNKNOWN') throw notFound(`tag "${params.tag}" not found in ${name}`);
        if ((error as { code?: string }).code === 'DENIED') throw forbidden((error as Error).message);
        throw error;
      }
      request.log.info({ repository: name, tag: params.tag, by: caller.account.name }, 'tag deleted');
      return answer(204);
    },
  });
}
