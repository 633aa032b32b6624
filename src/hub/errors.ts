/**
 * Typed hub errors; the /api adapter maps each kind to a problem type once. `plan_limit` is a
 * refusal by the namespace's plan (a limit or a feature it lacks): its message names the plan and
 * how to raise the limit; the push gate answers it as DENIED, like `forbidden`.
 */
export type HubErrorKind = 'invalid' | 'unauthorized' | 'forbidden' | 'plan_limit' | 'not_found' | 'conflict' | 'too_many_requests';

export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}
