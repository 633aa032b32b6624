import type { Migration } from '../dialect.js';
import { registryIndex } from './001-registry.js';
import { accounts } from './002-accounts.js';
import { organizationsAndPlans } from './003-organizations-plans.js';
import { hardeningAccounts } from './004-hardening-accounts.js';
import { browserSessions } from './005-browser-sessions.js';
import { repositoryPages } from './006-repository-pages.js';
import { webhooksAndAudit } from './008-webhooks-audit.js';
import { proxiesAndReplication } from './009-proxies-replication.js';

/** Every migration, in order. Names are stored; never rename or reorder a released one. */
export const MIGRATIONS: readonly Migration[] = [registryIndex, accounts, organizationsAndPlans, hardeningAccounts, browserSessions, repositoryPages, webhooksAndAudit, proxiesAndReplication];
