import type { FastifyRequest } from 'fastify';

/**
 * Why a request was refused, when its status alone does not say: a 403 is a permission denied or
 * a plan's limit. The surfaces that answer it (the OCI envelope, problem+json) note it here; the
 * metrics read it when the answer is counted.
 */
export type RefusalReason = 'plan';

const reasons = new WeakMap<FastifyRequest, RefusalReason>();

export function noteRefusal(request: FastifyRequest, reason: RefusalReason): void {
  reasons.set(request, reason);
}

export function refusalOf(request: FastifyRequest): RefusalReason | undefined {
  return reasons.get(request);
}
