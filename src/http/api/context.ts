import { MemoryLoginThrottle, type LoginThrottle } from '../../auth/login-throttle.js';
import type { Hub } from '../../hub/hub.js';
import type { PullAllowances } from '../../hub/pull-limits.js';
import type { ReplicationService } from '../../hub/replication/replication.js';
import type { WebhookService } from '../../hub/webhooks/webhooks.js';
import type { Clock } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';
import { trustedProxies, type ProxyTrust } from '../forwarded.js';
import type { TokenAuth } from '../token-auth.js';

/** What the /api/v1 routes share. */
export interface ApiContext {
  hub: Hub;
  registry: Registry;
  /** token authentication; absent when the server runs open (no session tokens then: browser sessions and Basic credentials still work) */
  auth?: TokenAuth;
  /** failed password checks, per account and client address: the token service's own when auth is on */
  throttle: LoginThrottle;
  clock: Clock;
  /** the origin of the configured public URL (`https://registry.example.com`), if one is set: requests from it are same-origin */
  publicOrigin?: string;
  /** which peers may say, by X-Forwarded-Proto, that the client came over TLS (cookies are then Secure) */
  proxies: ProxyTrust;
  /** replication rules and runs (the routes exist where it is given) */
  replication?: ReplicationService;
  /** webhooks of repositories and organisations (the routes exist where it is given) */
  webhooks?: WebhookService;
  /** the pull limits' counters, for an account's allowance (without: the plan's limit, nothing counted) */
  pullAllowances?: PullAllowances;
}

export interface ApiOptions {
  hub: Hub;
  registry: Registry;
  /** token authentication; without it (PIER_AUTH=open) there are no session tokens, browser sessions and Basic credentials still work */
  auth?: TokenAuth;
  clock: Clock;
  /** the configured public URL */
  publicUrl?: string;
  /** the configured trusted proxies (addresses or CIDRs) */
  trustProxy?: readonly string[];
  replication?: ReplicationService;
  webhooks?: WebhookService;
  pullAllowances?: PullAllowances;
}

/** One context for every surface that checks credentials (/api/v1, /v1/search): one throttle between them. */
export function createApiContext(options: ApiOptions): ApiContext {
  return {
    hub: options.hub,
    registry: options.registry,
    auth: options.auth,
    // open mode still checks passwords (Basic credentials): throttled all the same
    throttle: options.auth?.throttle ?? new MemoryLoginThrottle({ failures: 5, windowMs: 15 * 60_000, now: () => options.clock.now() }),
    clock: options.clock,
    ...(options.publicUrl ? { publicOrigin: new URL(options.publicUrl).origin } : {}),
    proxies: trustedProxies(options.trustProxy ?? []),
    ...(options.replication ? { replication: options.replication } : {}),
    ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    ...(options.pullAllowances ? { pullAllowances: options.pullAllowances } : {}),
  };
}
