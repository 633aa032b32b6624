import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OciError } from '../../oci/errors.js';
import { normalizeRepositoryName, type RepositoryName } from '../../oci/names.js';
import { openPullGate, type Actor, type PullGate } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';
import { requestOrigin } from '../request-origin.js';
import { auditedDeletion, deletionOf, type RepositoryHooks, type V2AuditTrail } from './audit.js';
import { AuthorizationError, requiredScopes, type V2Authorizer } from './authorize.js';
import { deleteBlob, headOrGetBlob } from './blobs.js';
import { drainRefusedBody, type V2Context } from './context.js';
import { sendOciError } from './errors.js';
import { listCatalog, listReferrers, listTags } from './listings.js';
import { deleteManifest, headOrGetManifest, putManifest } from './manifests.js';
import { matchV2Route, ROUTE_METHODS, type V2Route } from './route.js';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';

export interface V2Options {
  registry: Registry;
  authorizer: V2Authorizer;
  /** pull rate limits, asked on every manifest GET and HEAD (default: none) */
  pullGate?: PullGate;
  /** where deletions (a tag, a manifest, a blob) are written, with who and from where (default: nowhere) */
  audit?: V2AuditTrail;
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * The OCI Distribution API. One wildcard route: Fastify's router cannot express names that contain
 * `/`, and its body parsers must not touch blob bodies (they stream to storage).
 */
export function registerV2(app: FastifyInstance, options: V2Options): void {
  const handler = (request: FastifyRequest, reply: FastifyReply) => handleV2(options, request, reply);
  app.route({ method: [...ALL_METHODS], url: '/v2', handler });
  app.route({ method: [...ALL_METHODS], url: '/v2/*', handler });
}

async function handleV2(options: V2Options, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const head = request.method === 'HEAD';
  reply.header('docker-distribution-api-version', 'registry/2.0');
  try {
    const url = request.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const route = matchV2Route(path);
    if (!route) throw new OciError('UNSUPPORTED', `no such endpoint: ${request.method} ${path.slice(0, 200)}`, { status: 404 });
    const allowed = ROUTE_METHODS[route.kind];
    if (!allowed.includes(request.method)) {
      request.raw.resume();
      throw new OciError('UNSUPPORTED', `${request.method} is not supported on this endpoint`, {
        status: 405,
        headers: { allow: allowed.join(', ') },
      });
    }
    if (route.kind === 'base' || route.kind === 'catalog') {
      const actor = await options.authorizer.authorize(request, requiredScopes(route, request.method, undefined));
      if (route.kind === 'catalog') {
        const catalogFilter = options.authorizer.catalogFilter?.(request, actor);
        return await listCatalog({ registry: options.registry, request, reply, query, actor, head, catalogFilter });
      }
      return void (await reply.code(200).header('content-type', 'application/json').send('{}'));
    }
    const name = normalizeRepositoryName(route.name);
    const deletion = deletionOf(route, request.method, name);
    const serve = (hooks: RepositoryHooks) => serveRepository(options, request, reply, { route, name, query, head }, hooks);
    // a deletion is written in the audit log: done, refused or failed
    await (deletion ? auditedDeletion(options.audit, request, deletion, serve) : serve({}));
  } catch (error) {
    if (!reply.sent) {
      // the client may still be sending: read on (bounded) so that it gets this answer
      drainRefusedBody(request);
      await sendOciError(reply, error, request.log, head);
    }
    else request.log.warn({ err: error }, 'error after the response started');
  }
}

/** Authorizes a request on a repository, then serves it (`hooks`: what the audit of a deletion hears). */
async function serveRepository(
  options: V2Options,
  request: FastifyRequest,
  reply: FastifyReply,
  { route, name, query, head }: { route: RepositoryRoute; name: RepositoryName; query: URLSearchParams; head: boolean },
  hooks: RepositoryHooks,
): Promise<void> {
  // who, and from where: the registry carries it to the hub (a first push's audit entry)
  const actor: Actor = { ...(await authorizeRepository(options, request, route, name, query)), origin: requestOrigin(request) };
  hooks.authorized?.(actor);
  const readable = options.authorizer.readable?.(request);
  // reads of a name that Pier mirrors go to its copy in the mirror namespace (registry.readName)
  const reads = (request.method === 'GET' || head) && route.kind !== 'upload';
  const target = reads ? await options.registry.readName(name) : name;
  const ctx: V2Context = { registry: options.registry, request, reply, query, name: target, actor, head, readable, ...(hooks.deleted ? { deleted: hooks.deleted } : {}) };
  await dispatch(ctx, route, options.pullGate ?? openPullGate);
}

/**
 * A mount needs pull on its source too. A caller with push here but no pull there gets a plain
 * upload session, exactly as if the blob were stored nowhere else (no hint that it exists).
 */
async function authorizeRepository(options: V2Options, request: FastifyRequest, route: V2Route, name: RepositoryName, query: URLSearchParams): Promise<Actor> {
  const mount = route.kind === 'uploads' && query.get('mount') !== null;
  const from = mount ? query.get('from') : null;
  const mountFrom = from ? normalizeRepositoryName(from) : undefined;
  const required = requiredScopes(route, request.method, name, mountFrom);
  if (required.length < 2) return options.authorizer.authorize(request, required);
  try {
    return await options.authorizer.authorize(request, required);
  } catch (error) {
    if (!(error instanceof AuthorizationError) || error.reason !== 'insufficient_scope') throw error;
    let actor: Actor;
    try {
      actor = await options.authorizer.authorize(request, required.slice(0, 1));
    } catch {
      throw error; // the challenge names both repositories
    }
    // A caller who could pull the source only holds a token without it (clients reuse the token
    // of the previous request): challenge for both, so that it fetches one that has it.
    const readable = options.authorizer.readable?.(request);
    if (mountFrom !== undefined && readable && (await readable(mountFrom))) throw error;
    query.delete('mount');
    query.delete('from');
    return actor;
  }
}

type RepositoryRoute = Exclude<V2Route, { kind: 'base' } | { kind: 'catalog' }>;

function dispatch(ctx: V2Context, route: RepositoryRoute, pullGate: PullGate): Promise<void> {
  const method = ctx.request.method;
  switch (route.kind) {
    case 'tags':
      return listTags(ctx);
    case 'referrers':
      return listReferrers(ctx, route.digest);
    case 'manifest':
      if (method === 'PUT') return putManifest(ctx, route.reference);
      if (method === 'DELETE') return deleteManifest(ctx, route.reference);
      return headOrGetManifest(ctx, route.reference, pullGate);
    case 'blob':
      if (method === 'DELETE') return deleteBlob(ctx, route.digest);
      return headOrGetBlob(ctx, route.digest);
    case 'uploads':
      return startUpload(ctx);
    case 'upload':
      if (method === 'PATCH') return patchUpload(ctx, route.uploadId);
      if (method === 'PUT') return completeUpload(ctx, route.uploadId);
      if (method === 'DELETE') return cancelUpload(ctx, route.uploadId);
      return uploadStatus(ctx, route.uploadId);
  }
}
