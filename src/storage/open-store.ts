import { join } from 'node:path';
import type { BlobStore } from './blob-store.js';
import { createFsStore } from './fs-store.js';
import { parseStorageUrl } from './storage-url.js';

export interface StoreSettings {
  /** PIER_STORAGE_URL; unset means `<dataDir>/storage` */
  url?: string;
  fsync: boolean;
  dataDir: string;
}

/** The one place that turns the storage settings into a BlobStore. */
export async function openStore(settings: StoreSettings): Promise<BlobStore> {
  if (!settings.url) return createFsStore({ root: join(settings.dataDir, 'storage'), fsync: settings.fsync });
  const location = parseStorageUrl(settings.url);
  if (location.kind === 'file') return createFsStore({ root: location.root, fsync: settings.fsync });
  // loaded only when configured: the AWS SDK costs memory an installation on disk does not need
  const { createS3Store } = await import('./s3/store.js');
  return createS3Store(location.settings);
}
