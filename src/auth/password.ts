import { hash, verify } from '@node-rs/argon2';

/**
 * Passwords are hashed with argon2id (PHC string `$argon2id$v=19$m=19456,t=2,p=1$...`): OWASP's
 * recommended minimum, 19 MiB and two passes, about 20-40 ms per hash on a server core. The
 * parameters are stored in the hash itself, so raising them later still verifies old hashes.
 */
const ARGON2ID = 2; // Algorithm.Argon2id: the package's enum is `const`, unusable under isolatedModules
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** True when `password` matches `hash`; false for a wrong password and for any malformed hash. Never throws. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (typeof hash !== 'string' || typeof password !== 'string' || !hash.startsWith('$argon2')) return false;
  try {
    return await verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the time of a password check and answers false: for an unknown account name, so that the
 * response time does not tell which accounts exist.
 */
export async function fakePasswordCheck(password: string): Promise<false> {
  dummyHash ??= hashPassword('pier: no such account, no such password');
  await verifyPassword(await dummyHash, password);
  return false;
}

/** A message for the person choosing a password when it is unacceptable, else undefined. Lengths count code points. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `The password is too short: use at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (length > PASSWORD_MAX_LENGTH) return `The password is too long: use at most ${PASSWORD_MAX_LENGTH} characters.`;
  return undefined;
}
