import { OciError } from './errors.js';

/** A validated digest string such as `sha256:<64 hex>`. */
export type Digest = string & { readonly __digest: unique symbol };

export type DigestAlgorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The spec's grammar: algorithm-component ([+._-] algorithm-component)* ":" encoded
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigestLike(value: string): boolean {
  return value.includes(':');
}

/** Parses a digest, throwing DIGEST_INVALID for a malformed one or an algorithm Pier does not hash. */
export function parseDigest(value: string): Digest {
  if (value.length > 200 || !GRAMMAR.test(value)) {
    throw new OciError('DIGEST_INVALID', `invalid digest "${truncate(value)}"`);
  }
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (!(algorithm in ENCODED_LENGTH)) {
    throw new OciError('DIGEST_INVALID', `unsupported digest algorithm "${truncate(algorithm)}"`);
  }
  const length = ENCODED_LENGTH[algorithm as DigestAlgorithm];
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
    throw new OciError('DIGEST_INVALID', `invalid ${algorithm} digest "${truncate(value)}"`);
  }
  return value as Digest;
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function makeDigest(algorithm: DigestAlgorithm, hex: string): Digest {
  return `${algorithm}:${hex}` as Digest;
}

/** Shortens user input quoted in an error message. */
export function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}
