import type { AccessPolicy } from '../auth/access-policy.js';
import type { KeyRing } from '../auth/signing-keys.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { Hub } from '../hub/hub.js';
import type { Clock } from '../registry/ports.js';

/** What token authentication needs at the HTTP edge: /token, /v2's challenges, /api credentials. */
export interface TokenAuth {
  hub: Hub;
  /** who may do what: /token asks it when it issues, /v2 per request (the hub's policy) */
  policy: AccessPolicy;
  keyRing: KeyRing;
  /** `<publicUrl>/token`: from config, never from the request's Host header */
  realm: string;
  /** the `service` clients name, and the audience of access tokens */
  service: string;
  /** the `iss` of access tokens */
  issuer: string;
  tokenTtlSeconds: number;
  throttle: LoginThrottle;
  clock: Clock;
}
