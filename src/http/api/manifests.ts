import { z } from 'zod';
import { parseDigest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { RepositoryName } from '../../oci/names.js';
import { subjectOf } from './authenticate.js';
import type { ApiContext } from './context.js';
import { badRequest, forbidden, notFound } from './problem.js';
import { readable } from './repositories.js';
import { RepositoryPath } from './repository-json.js';
import { answer, type ApiRouter } from './route.js';

const ManifestPath = RepositoryPath.extend({ digest: z.string().meta({ description: 'the manifest’s digest, e.g. sha256:…' }) });

/** A repository's manifests by digest: deleting one with every tag that names it, as a registry DELETE by digest does. */
export function registerManifests(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

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
      let digest: string;
      try {
        digest = parseDigest(params.digest);
      } catch (error) {
        if (error instanceof OciError) throw badRequest(error.message, [{ field: 'digest', message: error.message }]);
        throw error;
      }
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
