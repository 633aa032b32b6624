import type { Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';

/**
 * Where the signing keys of access tokens are kept (the key ring in signing-keys.ts is its user):
 * the port, and its SQL adapter over the `signing_keys` table that every replica shares. The
 * store holds private keys only as the key ring encrypted them.
 */

/** A row of `signing_keys`. */
export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  /** public JWK, JSON */
  publicJwk: string;
  /** `v1.<iv>.<tag>.<ciphertext>` (base64url): AES-256-GCM of the private JWK's JSON */
  privateJwkEncrypted: string;
  /** epoch ms */
  createdAt: number;
  retiredAt: number | null;
}

export interface SigningKeyStore {
  list(): Promise<StoredSigningKey[]>;
  insert(key: StoredSigningKey): Promise<void>;
  /** Marks the key retired at `at` unless it already is. */
  retire(kid: string, at: number): Promise<void>;
}

export function sqlSigningKeyStore(db: Kysely<Database>): SigningKeyStore {
  return {
    async list() {
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at').orderBy('kid').execute();
      return rows.map((row) => ({
        kid: row.kid,
        algorithm: row.algorithm,
        publicJwk: row.public_jwk,
        privateJwkEncrypted: row.private_jwk_encrypted,
        // PostgreSQL returns bigint columns as strings
        createdAt: Number(row.created_at),
        retiredAt: row.retired_at === null ? null : Number(row.retired_at),
      }));
    },
    async insert(key) {
      await db
        .insertInto('signing_keys')
        .values({
          kid: key.kid,
          algorithm: key.algorithm,
          public_jwk: key.publicJwk,
          private_jwk_encrypted: key.privateJwkEncrypted,
          created_at: key.createdAt,
          retired_at: key.retiredAt,
        })
        .execute();
    },
    async retire(kid, at) {
      await db.updateTable('signing_keys').set({ retired_at: at }).where('kid', '=', kid).where('retired_at', 'is', null).execute();
    },
  };
}

/**
 * Forgets every signing key (`pier keys reset`, for an installation whose secret is lost): the next
 * start makes a new one. Access tokens signed so far stop verifying; refresh tokens (docker
 * logins) and access tokens of accounts are kept as hashes, not with these keys, and stay valid.
 */
export async function deleteSigningKeys(db: Kysely<Database>): Promise<number> {
  const result = await db.deleteFrom('signing_keys').executeTakeFirst();
  return Number(result.numDeletedRows);
}
