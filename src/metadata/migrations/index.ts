import type { Migration } from '../dialect.js';
import { registryIndex } from './001-registry.js';
import { accounts } from './002-accounts.js';
import { organizationsAndPlans } from './003-organizations-plans.js';
import { hardeningAccounts } from './004-hardening-accounts.js';
import { browserSessions } from './005-browser-sessions.js';
import { repositoryPages } from './006-repository-pages.js';
import { proxiesAndReplication } from './009-proxies-replication.js';
import { webhooksAndAudit } from './010-webhooks-audit.js';
import { hardeningEdges } from './011-hardening-edges.js';

/**
 * Every migration, in order. Names are stored; never rename or reorder a released one, and give a
 * new one the next number after the newest (an installation that applied a later one refuses an
 * earlier newcomer).
 */
export const MIGRATIONS: readonly Migration[] = [registryIndex, accounts, organizationsAndPlans, hardeningAccounts, browserSessions, repositoryPages, proxiesAndReplication, webhooksAndAudit, hardeningEdges];
