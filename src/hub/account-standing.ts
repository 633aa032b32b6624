import type { Kysely } from 'kysely';
import type { SubjectRefusal } from '../auth/access-policy.js';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';
import type { PlanService } from './plans.js';
import { Remembered } from './remembered.js';

/** How long an answer is reused: how late another replica learns of a deletion or a downgrade. */
export const STANDING_TTL_MS = 1_000;

/**
 * Whether an account may still act with a token it was given: asked on every /v2 request that
 * carries one, because an access token outlives what it was issued for.
 * - A deleted account (user or organisation) may do nothing, whatever tokens it holds.
 * - An organisation acts only through its access tokens, which its plan must still include
 *   (`organization-tokens`): after a downgrade they stop, and the answer says which plan.
 *
 * One indexed query per account at most every STANDING_TTL_MS per replica, not one per request.
 * The replica that deletes an account or changes a plan forgets its answers at once (`forget`);
 * the others within STANDING_TTL_MS. Nothing is created under a deleted namespace meanwhile
 * either way: the push path checks the namespace itself (RepositoryService).
 */
export class AccountStanding {
  readonly #answers: Remembered<SubjectRefusal | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly plans: Pick<PlanService, 'featureRefusal'>,
    clock: Clock,
  ) {
    this.#answers = new Remembered(STANDING_TTL_MS, () => clock.now());
  }

  /** Why `account` may not act now, or undefined when it may. */
  refusal(account: string): Promise<SubjectRefusal | undefined> {
    return this.#answers.get(account, () => this.decide(account));
  }

  /** Forgets what was answered about `account` (or about every account): after a deletion or a plan change. */
  forget(account?: string): void {
    this.#answers.forget(account);
  }

  private async decide(account: string): Promise<SubjectRefusal | undefined> {
    const row = await this.db.selectFrom('accounts').select(['kind', 'deleted_at']).where('name', '=', account).executeTakeFirst();
    if (!row || row.deleted_at !== null) return { kind: 'gone', message: `the account "${account}" no longer exists` };
    if (row.kind !== 'organization') return undefined;
    const message = await this.plans.featureRefusal(account, 'organization-tokens', 'an organisation access token');
    return message === undefined ? undefined : { kind: 'plan', message };
  }
}
