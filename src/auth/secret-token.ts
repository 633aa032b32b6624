import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Long random secrets handed to clients once and stored only as their SHA-256: personal access
 * tokens (`pier_pat_...`), refresh tokens (`pier_rt_...`) and browser sessions (`pier_bs_...`, the
 * session cookie). 32 random bytes need no slow hash;
 * a lookup is by the hash, so the database never sees the secret.
 */
export type SecretKind = 'pat' | 'refresh' | 'session';

const PREFIX: Record<SecretKind, string> = { pat: 'pier_pat_', refresh: 'pier_rt_', session: 'pier_bs_' };
/** base64url of 32 bytes: 43 characters, the last one carrying 4 bits (its 2 low bits are zero) */
const BODY = '[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]';
const SHAPE: Record<SecretKind, RegExp> = {
  pat: new RegExp(`^${PREFIX.pat}${BODY}$`),
  refresh: new RegExp(`^${PREFIX.refresh}${BODY}$`),
  session: new RegExp(`^${PREFIX.session}${BODY}$`),
};

export function newSecret(kind: SecretKind): { secret: string; hash: string } {
  const secret = PREFIX[kind] + randomBytes(32).toString('base64url');
  return { secret, hash: hashSecret(secret) };
}

/** SHA-256 hex of the whole secret, prefix included. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Which kind of secret `value` is, by prefix and shape; undefined for anything else (passwords included). */
export function secretKind(value: string): SecretKind | undefined {
  if (typeof value !== 'string') return undefined;
  if (SHAPE.pat.test(value)) return 'pat';
  if (SHAPE.refresh.test(value)) return 'refresh';
  if (SHAPE.session.test(value)) return 'session';
  return undefined;
}

/** Constant-time comparison of two hex hashes (or any two strings); false when the lengths differ. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
