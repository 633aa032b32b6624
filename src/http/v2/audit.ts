import type { FastifyRequest } from 'fastify';
import type { AuditResult, NewAuditEntry } from '../../hub/audit.js';
import { OciError } from '../../oci/errors.js';
import { isDigestLike } from '../../oci/digest.js';
import { namespaceOf } from '../../oci/names.js';
import type { Actor } from '../../registry/ports.js';
import { requestOrigin } from '../request-origin.js';
import { AuthorizationError } from './authorize.js';
import type { V2Route } from './route.js';

/** Where /v2 writes its audit entries (the hub's audit log). */
export interface V2AuditTrail {
  record(entry: NewAuditEntry): Promise<void>;
}

/** A deletion through /v2, before it is tried: what the entry will say. */
export interface V2Deletion {
  action: 'tag.deleted' | 'manifest.deleted' | 'blob.deleted';
  target: string;
  namespace: string;
}

/** The deletion a request asks for (DELETE of a manifest by tag or digest, or of a blob); undefined for anything else. */
export function deletionOf(route: V2Route, method: string, name: string): V2Deletion | undefined {
  if (method !== 'DELETE') return undefined;
  const namespace = namespaceOf(name);
  if (route.kind === 'manifest') {
    return isDigestLike(route.reference)
      ? { action: 'manifest.deleted', target: `${name}@${route.reference}`, namespace }
      : { action: 'tag.deleted', target: `${name}:${route.reference}`, namespace };
  }
  if (route.kind === 'blob') return { action: 'blob.deleted', target: `${name}@${route.digest}`, namespace };
  return undefined;
}

/** What serving a request on a repository tells whoever watches it: who was let in, and that a deletion was done. */
export interface RepositoryHooks {
  authorized?(actor: Actor): void;
  deleted?(): Promise<void>;
}

/**
 * Serves a deletion (`serve`) and writes its entry: when it is done, before it answers (the entry
 * is in when the client hears), or when it throws, with the error's result.
 */
export async function auditedDeletion(trail: V2AuditTrail | undefined, request: FastifyRequest, deletion: V2Deletion, serve: (hooks: RepositoryHooks) => Promise<void>): Promise<void> {
  let actor: Actor | undefined;
  let written = false;
  try {
    await serve({
      authorized: (who) => (actor = who),
      deleted: () => {
        written = true; // once: as done, not again as failed if the answer then fails
        return auditDeletion(trail, request, deletion, actor);
      },
    });
  } catch (error) {
    if (!written) await auditDeletion(trail, request, deletion, actor, error);
    throw error;
  }
}

/**
 * Writes the entry of a /v2 deletion: done (`error` undefined), refused (a credential that does not
 * allow it, a plan) or failed (nothing by that name). A request without any credential is not
 * written: it is the first half of the token dance every client does (401, then the token).
 * A failure to write is logged, never the request's failure.
 */
export async function auditDeletion(trail: V2AuditTrail | undefined, request: FastifyRequest, deletion: V2Deletion, actor: Actor | undefined, error?: unknown): Promise<void> {
  if (!trail) return;
  if (error instanceof AuthorizationError && error.reason === 'required') return;
  try {
    await trail.record({
      ...deletion,
      actor: actor?.account ?? null,
      via: 'registry',
      result: resultOf(error),
      ...requestOrigin(request),
    });
  } catch (failure) {
    request.log.error({ err: failure, action: deletion.action }, 'could not write the audit entry');
  }
}

function resultOf(error: unknown): AuditResult {
  if (error === undefined) return 'ok';
  if (error instanceof AuthorizationError) return 'refused';
  return error instanceof OciError && (error.code === 'DENIED' || error.code === 'UNAUTHORIZED') ? 'refused' : 'failed';
}
