import { OciError } from '../oci/errors.js';
import type { TagGuard } from '../metadata/registry-index.js';
import type { Actor, PushAllowance, PushCheck, PushGate } from '../registry/ports.js';
import type { RepositoryName } from '../oci/names.js';
import type { TagImmutability } from './tag-immutability.js';
import { namespaceOf } from '../oci/names.js';
import type { AuditLog } from './audit.js';
import { HubError } from './errors.js';
import type { RepositoryService } from './repositories.js';
import type { NamespaceLimits } from './usage.js';

/**
 * Asked before an upload starts, before each chunk and before a manifest is stored. Who may push
 * was decided when the token was issued; here the repository is created on first push, in the
 * push path itself, with the owner's default visibility, and the namespace's plan refuses what it
 * does not allow: a private repository over its limit (new, or read-only after a downgrade),
 * storage over its quota. Refusals are DENIED with the plan's message, which docker prints. A
 * repository created here is written in the audit log, with who pushed and from where.
 */
export class HubPushGate implements PushGate {
  constructor(
    private readonly repositories: RepositoryService,
    private readonly limits?: NamespaceLimits,
    private readonly audit?: AuditLog,
    private readonly immutability?: TagImmutability,
  ) {}

  /** Immutable tags: a push or deletion that would move or delete a protected tag is DENIED, naming the rule. */
  async tagGuard(repository: RepositoryName, _actor: Actor): Promise<TagGuard | undefined> {
    return this.immutability?.guard(repository);
  }

  async check(push: PushCheck): Promise<PushAllowance | void> {
    try {
      return await this.decide(push);
    } catch (error) {
      if (error instanceof HubError && (error.kind === 'forbidden' || error.kind === 'plan_limit')) throw new OciError('DENIED', error.message, { byPlan: error.kind === 'plan_limit' });
      throw error;
    }
  }

  private async decide(push: PushCheck): Promise<PushAllowance | void> {
    const namespace = namespaceOf(push.repository);
    const billing = await this.limits?.billingOf(namespace);
    const limits = this.limits!;
    // a namespace over its storage quota is refused before anything, so that a refused push
    // does not leave an empty repository behind
    const held = push.held ?? 0;
    // (an upload that reserved its declared length is refused by that length, after the others' reservations were tried)
    const refuseWhenFull = push.operation === 'upload' && held === 0;
    const allowance = billing && push.operation !== 'manifest' ? await limits.storageAllowance(billing, namespace, refuseWhenFull, held) : undefined;
    // a new private repository over the limit is refused here, and not created
    const repository = push.operation === 'chunk' ? undefined : await this.repositories.ensure(push.repository);
    if (repository?.created) await this.#audited(push, repository.private);
    if (!billing) return;
    if (repository?.private && !repository.created) await limits.checkWritable(billing, namespace, push.repository);
    if (push.operation === 'manifest') return limits.checkManifest(billing, namespace, push.sizeDelta, push.digest);
    return allowance ?? {};
  }

  /** The first push's entry: `registry` when a client pushed, `system` for Pier's own copies (replication). */
  async #audited(push: PushCheck, isPrivate: boolean): Promise<void> {
    const { actor } = push;
    await this.audit?.record({
      action: 'repository.created',
      actor: actor.account ?? null,
      via: actor.origin ? 'registry' : 'system',
      target: push.repository,
      namespace: namespaceOf(push.repository),
      result: 'ok',
      ...(actor.origin ?? {}),
      details: { is_private: isPrivate, by: 'push' },
    });
  }
}
