import type { Migration } from '../dialect.js';
import { registryIndex } from './001-registry.js';
import { accounts } from './002-accounts.js';
import { organizationsAndPlans } from './003-organizations-plans.js';
import { hardeningAccounts } from './004-hardening-accounts.js';
import { browserSessions } from './005-browser-sessions.js';
import { repositoryPages } from './006-repository-pages.js';
import { lifecycle } from './007-lifecycle.js';
import { proxiesAndReplication } from './009-proxies-replication.js';
import { webhooksAndAudit } from './010-webhooks-audit.js';
import { hardeningEdges } from './011-hardening-edges.js';
import { uploadReservations } from './012-upload-reservations.js';
import { immutableTags } from './013-immutable-tags.js';
import { retention } from './014-retention.js';
import { namespaceUsage } from './015-namespace-usage.js';

/**
 * Every migration, in numeric order. Names are stored; never rename or reorder a released one.
 * Numbers are reserved per feature, so one may land after a higher one was released: those never
 * applied run on upgrade whatever their place (database.ts: allowUnorderedMigrations).
 */
export const MIGRATIONS: readonly Migration[] = [registryIndex, accounts, organizationsAndPlans, hardeningAccounts, browserSessions, repositoryPages, lifecycle, proxiesAndReplication, webhooksAndAudit, hardeningEdges, uploadReservations, immutableTags, retention, namespaceUsage];
