/** Kysely's view of the tables. Times are epoch milliseconds; ordering columns compare bytes. */
export interface RepositoriesTable {
  name: string;
  created_at: number;
}

export interface BlobsTable {
  digest: string;
  size: number;
  created_at: number;
}

/** Which repository may read which blob; `last_seen_at` is refreshed by HEAD and mount (for GC). */
export interface BlobLinksTable {
  repository: string;
  digest: string;
  linked_at: number;
  last_seen_at: number;
}

export interface ManifestsTable {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  content: Buffer;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
  created_at: number;
}

/** Blobs and child manifests a manifest refers to: for delete checks, GC and quotas. */
export interface ManifestReferencesTable {
  repository: string;
  manifest_digest: string;
  digest: string;
  kind: 'blob' | 'manifest';
}

export interface TagsTable {
  repository: string;
  name: string;
  digest: string;
  updated_at: number;
}

export interface UploadsTable {
  id: string;
  repository: string;
  /** bytes received so far */
  size: number;
  /** sha256 of the bytes received so far, so a final PUT without a body completes on any replica */
  sha256: string;
  created_at: number;
  updated_at: number;
  /** while a request writes to the session: until when its claim holds (a crashed writer's expires) */
  locked_until: number | null;
}

export interface Database {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  blob_links: BlobLinksTable;
  manifests: ManifestsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  uploads: UploadsTable;
}
