import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseStorageUrl } from '../storage/storage-url.js';
import type { Config } from './config.js';

/**
 * The data directory holds password hashes (pier.db), the secret that encrypts the signing keys,
 * and every blob, private ones included: only the user Pier runs as may read it. Pier creates
 * its folders 0700 and its files 0600 (the database, the secret and the store each do when they
 * create theirs); this makes sure of the directories they go in, and fixes an installation made
 * before that (folders 0755, files 0644), saying in the log what it changed.
 *
 * The top-level entries are checked at every start (a few stats). The blob and upload trees are
 * walked only when their root was open to others, which is once: at the first start after an
 * upgrade, since a private root keeps everything under it out of reach anyway.
 */

const PRIVATE_DIRECTORY = 0o700;
const PRIVATE_FILE = 0o600;
/** Files of the data directory itself that must be private. */
const DATA_FILES = ['pier.db', 'pier.db-wal', 'pier.db-shm', 'pier.db-journal', 'secret.key'];

export interface Tightened {
  /** `path: 0755 -> 0700` */
  changes: string[];
  /** files and folders made private under the blob and upload trees */
  walked: number;
}

/** Creates the data directory (and the file store's) private, and tightens what an older installation left open. */
export async function secureDataDirectory(config: Config, logger: Logger): Promise<Tightened> {
  const result: Tightened = { changes: [], walked: 0 };
  if (usesDataDirectory(config)) await mkdir(config.data, { recursive: true, mode: PRIVATE_DIRECTORY });
  await tighten(config.data, PRIVATE_DIRECTORY, result, logger);
  for (const name of DATA_FILES) await tighten(join(config.data, name), PRIVATE_FILE, result, logger);

  const root = fileStoreRoot(config);
  if (root) {
    let open = false;
    for (const path of [root, join(root, 'blobs'), join(root, 'uploads')]) {
      if (await tighten(path, PRIVATE_DIRECTORY, result, logger)) open = true;
    }
    // what an older version wrote below: private folders and files all the way down
    if (open) for (const sub of ['blobs', 'uploads']) result.walked += await tightenTree(join(root, sub));
  }
  if (result.changes.length > 0 || result.walked > 0) {
    const below = result.walked > 0 ? `; and ${result.walked} files and folders of blobs and uploads below` : '';
    logger.warn(
      { changed: result.changes, walked: result.walked },
      `made the data directory readable by this user only (it was open to other local users): ${result.changes.join(', ')}${below}`,
    );
  }
  return result;
}

/** Whether anything of this configuration lives in the data directory (replicas on PostgreSQL, S3 and a shared secret file need none). */
function usesDataDirectory(config: Config): boolean {
  const root = fileStoreRoot(config);
  return !config.database.url || (root !== undefined && root === join(config.data, 'storage')) || (config.auth.mode === 'token' && !config.auth.secretKeyFile);
}

/** The root of the filesystem store, when blobs are kept on disk. */
function fileStoreRoot(config: Config): string | undefined {
  if (!config.storage.url) return join(config.data, 'storage');
  const location = parseStorageUrl(config.storage.url);
  return location.kind === 'file' ? location.root : undefined;
}

/** Removes group and other permissions from `path` if it exists; true when it changed it. */
async function tighten(path: string, mode: number, result: Tightened, logger: Logger): Promise<boolean> {
  const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!info || info.isSymbolicLink()) return false;
  const current = info.mode & 0o7777;
  if ((current & 0o077) === 0) return false;
  // a shared folder given as the data directory (/tmp and its like) is not ours to close
  if (info.isDirectory() && (current & 0o1000) !== 0) {
    logger.warn({ path }, `${path} is a shared directory (sticky bit): give Pier a data directory of its own`);
    return false;
  }
  await chmod(path, mode);
  result.changes.push(`${path}: ${octal(current)} -> ${octal(mode)}`);
  return true;
}

/** Makes every folder 0700 and file 0600 under `dir`; how many it changed. */
async function tightenTree(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  let changed = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const info = await lstat(path);
      if ((info.mode & 0o077) !== 0) {
        await chmod(path, PRIVATE_DIRECTORY);
        changed++;
      }
      changed += await tightenTree(path);
    } else if (entry.isFile()) {
      const info = await lstat(path);
      if ((info.mode & 0o077) !== 0) {
        await chmod(path, PRIVATE_FILE);
        changed++;
      }
    }
  }
  return changed;
}

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;
