import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { SigningKeyStore, StoredSigningKey } from './signing-key-store.js';

/**
 * The key ring: ES256 keys that sign Pier's access tokens (JWTs), shared by every replica through
 * a SigningKeyStore (signing-key-store.ts: the `signing_keys` table). Private keys are stored
 * encrypted with the installation secret.
 *
 * Lifecycle of a key:
 * - active (`retired_at` null): verifies; the newest active key (by created_at) signs. Several
 *   keys may be active at once (replicas that started together, or after `rotate()`).
 * - retired at T: no longer signs; still verifies and is still published in `jwks()` until
 *   T + RETIRED_KEY_GRACE_MS (one hour, far longer than an access token lives), then is ignored.
 *
 * Verification does not touch the database: keys are held in memory. A token whose `kid` is not
 * known triggers a reload from the store, at most once per UNKNOWN_KID_RELOAD_INTERVAL_MS (10 s),
 * so a key another replica rotated in is picked up and junk kids cannot hammer the database.
 * Besides, a verify() at least REFRESH_INTERVAL_MS (1 minute) after the last load starts a reload
 * in the background (not awaited) so retirements made elsewhere propagate.
 */
export const RETIRED_KEY_GRACE_MS = 60 * 60 * 1000;
export const UNKNOWN_KID_RELOAD_INTERVAL_MS = 10_000;
export const REFRESH_INTERVAL_MS = 60_000;
/** Clock skew allowed between replicas when checking exp and nbf, as distribution's registry does. */
export const CLOCK_TOLERANCE_SECONDS = 60;

/** How many verified tokens verify() remembers (oldest forgotten first), and how long one may be. */
export const VERIFIED_CACHE_SIZE = 4096;
const MAX_CACHED_TOKEN_LENGTH = 8192;

const ALGORITHM = 'ES256';
const ENCRYPTION_VERSION = 'v1';
const SECRET_MISMATCH = 'the installation secret does not match the signing keys in the database';

/**
 * The installation secret does not decrypt the signing keys in the database: the secret file is
 * not the one this database was set up with (or the database is another installation's).
 */
export class SecretMismatchError extends Error {
  override name = 'SecretMismatchError';
  constructor(readonly kid: string, options?: { cause?: unknown }) {
    super(`${SECRET_MISMATCH} (signing key ${kid} does not decrypt)`, options);
  }
}

/** verify() failed because of the token (bad signature, expired, wrong audience, unknown key...). */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface SignOptions {
  expiresInSeconds: number;
  issuer: string;
  audience: string;
  subject: string;
}

export interface VerifyOptions {
  issuer: string;
  audience: string;
}

export interface KeyRingOptions {
  store: SigningKeyStore;
  /** the 32-byte installation secret */
  secret: Buffer;
  /** epoch ms; for tests */
  now?: () => number;
}

interface VerifiedToken {
  payload: JWTPayload;
  kid: string;
  issuer: string;
  audience: string;
  exp: number;
  nbf: number | undefined;
}

interface LoadedKey {
  kid: string;
  createdAt: number;
  retiredAt: number | null;
  /** public members only, plus kid, alg, use */
  jwk: JWK;
  publicKey: CryptoKey;
  encrypted: string;
  privateKey?: CryptoKey;
}

export class KeyRing {
  readonly #store: SigningKeyStore;
  readonly #encryptionKey: Buffer;
  readonly #now: () => number;
  #keys = new Map<string, LoadedKey>();
  #lastLoadAt = 0;
  #lastUnknownKidReloadAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  readonly #verified = new Map<string, VerifiedToken>();

  private constructor(options: KeyRingOptions) {
    if (!Buffer.isBuffer(options.secret) || options.secret.length !== 32) {
      throw new Error('the installation secret must be 32 bytes');
    }
    this.#store = options.store;
    this.#encryptionKey = encryptionKeyOf(options.secret);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Loads the keys, checks the secret decrypts every active private key (else throws), and
   * generates a key when none is active.
   */
  static async open(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.reload();
    for (const key of ring.#keys.values()) {
      if (key.retiredAt === null) await ring.#privateKey(key);
    }
    if (!ring.#signing()) await ring.#generate();
    return ring;
  }

  /** The key that signs: the newest active one. */
  signingKey(): { kid: string; createdAt: number; publicJwk: JWK } {
    const key = this.#signing();
    if (!key) throw new Error('no active signing key');
    return { kid: key.kid, createdAt: key.createdAt, publicJwk: { ...key.jwk } };
  }

  async sign(payload: JWTPayload & object, options: SignOptions): Promise<string> {
    const now = this.#now();
    const key = this.#signing();
    if (!key) throw new Error('no active signing key');
    const privateKey = await this.#privateKey(key);
    const seconds = Math.floor(now / 1000);
    return new SignJWT({ ...payload })
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setIssuedAt(seconds)
      .setNotBefore(seconds)
      .setExpirationTime(seconds + options.expiresInSeconds)
      .setJti(randomUUID())
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setSubject(options.subject)
      .sign(privateKey);
  }

  /**
   * Checks the signature (ES256, by a known and usable key), iss, aud and the times (exp
   * required; CLOCK_TOLERANCE_SECONDS of skew). Throws InvalidTokenError for a bad token.
   *
   * Verified tokens are remembered (VERIFIED_CACHE_SIZE of them, by their exact text): a client
   * sends the same token with every request of a pull or push, and a repeat costs a map lookup
   * plus the time and key checks instead of an ECDSA verification. The payload returned is
   * deeply frozen, since repeats share it.
   */
  async verify(token: string, options: VerifyOptions): Promise<JWTPayload> {
    const now = this.#now();
    if (now - this.#lastLoadAt >= REFRESH_INTERVAL_MS && !this.#loading) {
      this.#lastLoadAt = now; // a failing store is retried once per interval, not on every call
      this.reload().catch(() => {});
    }
    const cached = this.#verified.get(token);
    if (cached && cached.issuer === options.issuer && cached.audience === options.audience) {
      const key = this.#keys.get(cached.kid);
      const seconds = Math.floor(now / 1000);
      if (
        key &&
        usable(key, now) &&
        seconds < cached.exp + CLOCK_TOLERANCE_SECONDS &&
        (cached.nbf === undefined || seconds >= cached.nbf - CLOCK_TOLERANCE_SECONDS)
      ) {
        return cached.payload;
      }
      this.#verified.delete(token); // and let the full check say what is wrong
    }
    let kid = '';
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = await this.#verificationKey(header);
          kid = header.kid!;
          return key;
        },
        {
          algorithms: [ALGORITHM],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['exp'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(now),
        },
      );
      deepFreeze(payload);
      if (token.length <= MAX_CACHED_TOKEN_LENGTH) {
        if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
        this.#verified.set(token, {
          payload,
          kid,
          issuer: options.issuer,
          audience: options.audience,
          exp: payload.exp!,
          nbf: typeof payload.nbf === 'number' ? payload.nbf : undefined,
        });
      }
      return payload;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof errors.JOSEError) throw new InvalidTokenError(error.message, { cause: error });
      throw error;
    }
  }

  /** Public keys of the active and recently retired keys: what a verifier may need. */
  jwks(): { keys: JWK[] } {
    const now = this.#now();
    return { keys: this.#sorted().filter((k) => usable(k, now)).map((k) => ({ ...k.jwk })) };
  }

  /** Makes a new key the signing key; the others stay active for verification. Returns its kid. */
  async rotate(): Promise<string> {
    return (await this.#generate()).kid;
  }

  /**
   * Retires a key: it stops signing now and stops verifying after RETIRED_KEY_GRACE_MS. When no
   * active key is left, a new one is generated.
   */
  async retire(kid: string): Promise<void> {
    const now = this.#now();
    await this.#store.retire(kid, now);
    const key = this.#keys.get(kid);
    if (key && key.retiredAt === null) key.retiredAt = now;
    if (!this.#signing()) await this.#generate();
  }

  /** Reads the keys from the store again (one read at a time). */
  reload(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const startedAt = this.#now();
    const rows = await this.#store.list();
    const keys = new Map<string, LoadedKey>();
    for (const row of rows) {
      if (row.algorithm !== ALGORITHM) continue;
      const known = this.#keys.get(row.kid);
      if (known) {
        // keep the imported keys; only the retirement can change
        known.retiredAt = row.retiredAt ?? known.retiredAt;
        keys.set(row.kid, known);
        continue;
      }
      const jwk = publicJwk(JSON.parse(row.publicJwk) as JWK, row.kid);
      keys.set(row.kid, {
        kid: row.kid,
        createdAt: row.createdAt,
        retiredAt: row.retiredAt,
        jwk,
        publicKey: (await importJWK(jwk, ALGORITHM)) as CryptoKey,
        encrypted: row.privateJwkEncrypted,
      });
    }
    // keys this ring generated but the store did not list (a racing read) are kept
    for (const [kid, key] of this.#keys) if (!keys.has(kid)) keys.set(kid, key);
    this.#keys = keys;
    this.#lastLoadAt = startedAt;
  }

  async #verificationKey(header: JWTHeaderParameters): Promise<CryptoKey> {
    if (header.alg !== ALGORITHM) throw new InvalidTokenError(`token algorithm ${String(header.alg)} is not ${ALGORITHM}`);
    const kid = header.kid;
    if (typeof kid !== 'string' || kid === '') throw new InvalidTokenError('token has no kid');
    let key = this.#keys.get(kid);
    if (!key) {
      const now = this.#now();
      if (now - this.#lastUnknownKidReloadAt >= UNKNOWN_KID_RELOAD_INTERVAL_MS) {
        this.#lastUnknownKidReloadAt = now;
        await this.reload();
        key = this.#keys.get(kid);
      }
    }
    if (!key) throw new InvalidTokenError('token signed by an unknown key');
    if (!usable(key, this.#now())) throw new InvalidTokenError('token signed by a retired key');
    return key.publicKey;
  }

  #sorted(): LoadedKey[] {
    return [...this.#keys.values()].sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? 1 : a.kid > b.kid ? -1 : 0));
  }

  #signing(): LoadedKey | undefined {
    return this.#sorted().find((k) => k.retiredAt === null);
  }

  async #privateKey(key: LoadedKey): Promise<CryptoKey> {
    if (!key.privateKey) {
      const jwk = decryptPrivateJwk(key.encrypted, key.kid, this.#encryptionKey);
      key.privateKey = (await importJWK(jwk, ALGORITHM)) as CryptoKey;
    }
    return key.privateKey;
  }

  async #generate(): Promise<LoadedKey> {
    const pair = await generateKeyPair(ALGORITHM, { extractable: true });
    const privateJwk = await exportJWK(pair.privateKey);
    const kid = await calculateJwkThumbprint(privateJwk, 'sha256');
    const jwk = publicJwk(privateJwk, kid);
    const newest = this.#sorted()[0]?.createdAt ?? Number.NEGATIVE_INFINITY;
    // strictly newer than every known key, so the new key is the one that signs
    const createdAt = Math.max(this.#now(), newest + 1);
    const stored: StoredSigningKey = {
      kid,
      algorithm: ALGORITHM,
      publicJwk: JSON.stringify(jwk),
      privateJwkEncrypted: encryptPrivateJwk(privateJwk, kid, this.#encryptionKey),
      createdAt,
      retiredAt: null,
    };
    await this.#store.insert(stored);
    const key: LoadedKey = {
      kid,
      createdAt,
      retiredAt: null,
      jwk,
      publicKey: pair.publicKey,
      encrypted: stored.privateJwkEncrypted,
      privateKey: pair.privateKey,
    };
    this.#keys.set(kid, key);
    return key;
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  for (const member of Object.values(value)) deepFreeze(member);
  Object.freeze(value);
}

function usable(key: LoadedKey, now: number): boolean {
  return key.retiredAt === null || now < key.retiredAt + RETIRED_KEY_GRACE_MS;
}

/** The public members of an EC key, with kid, alg and use: never `d`. */
function publicJwk(jwk: JWK, kid: string): JWK {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new Error(`signing key ${kid} is not an EC P-256 key`);
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: ALGORITHM, use: 'sig' };
}

function additionalData(kid: string): Buffer {
  return Buffer.from(`pier signing key ${ENCRYPTION_VERSION} ${kid}`, 'utf8');
}

/** `v1.<iv>.<tag>.<ciphertext>`, base64url; the kid is bound in as additional data. */
export function encryptPrivateJwk(jwk: JWK, kid: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(additionalData(kid));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [ENCRYPTION_VERSION, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join('.');
}

/**
 * Throws SecretMismatchError unless `secret` decrypts every active key of `keys` (what KeyRing.open
 * checks, without opening a ring: `pier check` asks it of keys it read without changing anything).
 */
export function checkSecretDecrypts(keys: readonly Pick<StoredSigningKey, 'kid' | 'privateJwkEncrypted' | 'retiredAt'>[], secret: Buffer): void {
  const encryptionKey = encryptionKeyOf(secret);
  for (const key of keys) if (key.retiredAt === null) decryptPrivateJwk(key.privateJwkEncrypted, key.kid, encryptionKey);
}

function encryptionKeyOf(secret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'pier signing keys v1', 32));
}

export function decryptPrivateJwk(encrypted: string, kid: string, key: Buffer): JWK {
  const parts = encrypted.split('.');
  if (parts.length !== 4 || parts[0] !== ENCRYPTION_VERSION) {
    throw new Error(`signing key ${kid}: unknown private key encoding (expected ${ENCRYPTION_VERSION}.<iv>.<tag>.<ciphertext>)`);
  }
  const [, iv, tag, ciphertext] = parts as [string, string, string, string];
  let json: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(additionalData(kid));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    json = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SecretMismatchError(kid, { cause: error });
  }
  const jwk = JSON.parse(json) as JWK;
  if (typeof jwk.d !== 'string') throw new Error(`signing key ${kid}: the decrypted private key has no d`);
  return jwk;
}
