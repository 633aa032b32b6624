import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The installation secret: 32 bytes that encrypt the JWT signing keys kept in the database.
 * Every replica sharing a database needs the same secret: give them all PIER_SECRET_KEY_FILE
 * (`file`). A single node keeps it in `<dataDir>/secret.key`, made on first start (64 hex
 * characters, mode 0600).
 *
 * Accepted file contents: exactly 32 raw bytes; or, whitespace trimmed, 64 hex characters or
 * the base64 / base64url of 32 bytes (`openssl rand -hex 32`, `openssl rand -base64 32`).
 */
export const SECRET_FILE_NAME = 'secret.key';

/** What is wrong with a secret file, as the user must hear it: which file, what is wrong, what to put there. */
export class InstallationSecretError extends Error {
  override name = 'InstallationSecretError';
  constructor(
    readonly reason: 'missing' | 'unreadable' | 'malformed',
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MAKE_ONE = 'for example `openssl rand -hex 32 >FILE`';

export async function loadInstallationSecret(options: { file?: string; dataDir: string }): Promise<Buffer> {
  if (options.file !== undefined && options.file !== '') return readSecretFile(options.file);
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const path = join(options.dataDir, SECRET_FILE_NAME);
  try {
    return await readSecretFile(path);
  } catch (error) {
    if (!(error instanceof InstallationSecretError) || error.reason !== 'missing') throw error;
  }
  await createSecretFile(path);
  return readSecretFile(path);
}

/** Decodes a secret file's contents; undefined when they are none of the accepted forms. */
export function decodeSecret(raw: Buffer): Buffer | undefined {
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text) || /^[A-Za-z0-9_-]{43}$/.test(text)) {
    const bytes = Buffer.from(text, text.includes('+') || text.includes('/') ? 'base64' : 'base64url');
    if (bytes.length === 32) return bytes;
  }
  if (raw.length === 32) return Buffer.from(raw);
  return undefined;
}

/**
 * Reads and decodes a secret file; InstallationSecretError when it is missing, unreadable or not
 * 32 bytes in one of the accepted forms (`pier check` and `pier serve` read it through here).
 */
export async function readSecretFile(path: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new InstallationSecretError('missing', path, `the installation secret file ${path} does not exist: create it with 32 random bytes (${MAKE_ONE.replace('FILE', path)}), the same file on every replica`, { cause: error });
    }
    throw new InstallationSecretError('unreadable', path, `cannot read the installation secret file ${path} (${e.code ?? e.message}): let the user Pier runs as read it`, { cause: error });
  }
  const secret = decodeSecret(raw);
  if (!secret) {
    throw new InstallationSecretError(
      'malformed',
      path,
      `the installation secret file ${path} must hold 32 bytes: raw, as 64 hex characters or in base64 (${MAKE_ONE.replace('FILE', path)}); it holds ${raw.length} bytes of something else`,
    );
  }
  return secret;
}

/**
 * Writes a new secret to `path` unless one is already there. The secret is written in full to a
 * private temporary file, then hard-linked into place: the link is atomic and fails if the name
 * exists, so processes starting together all end up reading the one file that won, never a half
 * written one. Where hard links are not supported, falls back to an exclusive create.
 */
async function createSecretFile(path: string): Promise<void> {
  const content = `${randomBytes(32).toString('hex')}\n`;
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writePrivate(temporary, 'wx', content);
  try {
    await link(temporary, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw error;
    try {
      await writePrivate(path, 'wx', content);
    } catch (fallback) {
      if ((fallback as NodeJS.ErrnoException).code !== 'EEXIST') throw fallback;
    }
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

async function writePrivate(path: string, flags: string, content: string): Promise<void> {
  const handle = await open(path, flags, 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, 0o600);
}
