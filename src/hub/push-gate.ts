import type { PushCheck, PushGate } from '../registry/ports.js';
import type { RepositoryService } from './repositories.js';

/**
 * Asked before an upload starts and before a manifest is stored. Who may push was decided when
 * the token was issued; here the repository is created on first push, in the push path itself,
 * with the owner's default visibility. Plans and quotas will refuse here too.
 */
export class HubPushGate implements PushGate {
  constructor(private readonly repositories: RepositoryService) {}

  async check(push: PushCheck): Promise<void> {
    await this.repositories.ensure(push.repository);
  }
}
