import type { LoginThrottle } from '../../auth/login-throttle.js';
import type { Hub } from '../../hub/hub.js';
import type { Clock } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';
import type { TokenAuth } from '../token-auth.js';

/** What the /api/v1 routes share. */
export interface ApiContext {
  hub: Hub;
  registry: Registry;
  /** token authentication; absent when the server runs open (no sign-in sessions then) */
  auth?: TokenAuth;
  /** failed password checks, per account and client address: the token service's own when auth is on */
  throttle: LoginThrottle;
  clock: Clock;
}
