import type { Migration } from '../dialect.js';

/**
 * Upload sessions by repository: a namespace's open sessions are counted when one starts (the cap
 * of uploads.maxOpenSessions) and their bytes count against its storage quota, both as a range of
 * repository names ("namespace/..."), which this index answers.
 */
export const hardeningEdges: Migration = {
  name: '011-hardening-edges',
  async up(db) {
    await db.schema.createIndex('uploads_repository').on('uploads').column('repository').execute();
  },
};
