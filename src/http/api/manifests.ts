import { z } from 'zod';
import type { ManifestSummary } from '../../hub/tag-pages.js';
import { CONTENT_TYPES } from '../../oci/content-types.js';
import { parseDigest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { RepositoryName } from '../../oci/names.js';
import { subjectOf } from './authenticate.js';
import type { ApiContext } from './context.js';
import { badRequest, forbidden, notFound } from './problem.js';
import { readable } from './repositories.js';
import { RepositoryPath } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';
import { Timestamp } from './schemas.js';
import { TagImageSchema, tagImageJson } from './tags.js';

const ManifestPath = RepositoryPath.extend({ digest: z.string().meta({ description: 'the manifest’s digest, e.g. sha256:…' }) });

const ManifestSchema = z
  .object({
    digest: z.string(),
    media_type: z.string(),
    content_type: z.enum(CONTENT_TYPES as [string, ...string[]]),
    full_size: z.number().int().meta({ description: 'an image: config + layers; an index: the sum of its platforms' }),
    last_pushed: Timestamp,
    tags: z.array(z.string()).meta({ description: 'the tags naming it, by name; none when it is reachable by digest only' }),
    images: z.array(TagImageSchema).meta({ description: 'one per platform' }),
  })
  .meta({ id: 'Manifest' });

function manifestJson(m: ManifestSummary): z.output<typeof ManifestSchema> {
  return {
    digest: m.digest,
    media_type: m.mediaType,
    content_type: m.contentType,
    full_size: m.fullSize,
    last_pushed: new Date(m.pushedAt).toISOString(),
    tags: m.tags,
    images: m.images.map(tagImageJson),
  };
}

/** The digest of the path, or a validation problem. */
function digestOf(value: string): string {
  try {
    return parseDigest(value);
  } catch (error) {
    if (error instanceof OciError) throw badRequest(error.message, [{ field: 'digest', message: error.message }]);
    throw error;
  }
}

/** A repository's manifests by digest: one with its tags and platforms; deleting one with every tag that names it, as a registry DELETE by digest does. */
export function registerManifests(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/repositories/{namespace}/{name}/manifests/{digest}',
    summary: 'A manifest by digest: its kind, size, platforms and the tags naming it',
    tags: ['tags'],
    auth: 'optional',
    params: ManifestPath,
    responses: { 200: ManifestSchema },
    problems: ['not-found', 'validation'],
    handler: async ({ caller, params }) => {
      const name = await readable(ctx, caller, params);
      return manifestJson(await hub.tags.manifest(subjectOf(caller), name, digestOf(params.digest)));
    },
  });

  router.route({
    method: 'DELETE',
    path: '/repositories/{namespace}/{name}/manifests/{digest}',
    summary: 'Delete a manifest with every tag that names it (and its referrers: signatures, SBOMs)',
    description:
      'As a registry DELETE by digest. Delete permission on the repository: the owner, an owner of its organisation, a team with admin on it, an administrator; a token needs repo:delete. Refused (forbidden, naming the rule) when an immutable tag names it. An index’s children stay; the bytes go at the next garbage collection.',
    tags: ['tags'],
    auth: 'signed-in',
    params: ManifestPath,
    responses: { 204: null },
    problems: ['not-found', 'forbidden', 'validation'],
    handler: async ({ request, caller, params }) => {
      const name = await readable(ctx, caller, params);
      if (!(await hub.policy.allowed(subjectOf(caller), name)).has('delete')) throw forbidden(`deleting manifests of ${name} needs delete permission on it`);
      const digest = digestOf(params.digest);
      try {
        await ctx.registry.manifests.delete(name as RepositoryName, digest, { account: caller.account.name });
      } catch (error) {
        if (error instanceof OciError && error.code === 'MANIFEST_UNKNOWN') throw notFound(`manifest ${digest} not found in ${name}`);
        if (error instanceof OciError && error.code === 'DENIED') throw forbidden(error.message);
        throw error;
      }
      request.log.info({ repository: name, digest, by: caller.account.name }, 'manifest deleted');
      return answer(204);
    },
  });
}
