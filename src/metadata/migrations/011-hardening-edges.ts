import type { Migration } from '../dialect.js';

/**
 * Upload sessions by repository: a namespace's open sessions are counted when one starts (the cap
 * of uploads.maxOpenSessions) and their bytes count against its storage quota, both as a range of
 * repository names ("namespace/..."), which this index answers. `reserved`: the bytes a body in
 * flight may still add to a session (a chunk's, a one-request upload's), counted with its bytes,
 * so that parallel uploads cannot each take the room that is left.
 */
export const hardeningEdges: Migration = {
  name: '011-hardening-edges',
  async up(db, t) {
    await db.schema.createIndex('uploads_repository').on('uploads').column('repository').execute();
    await db.schema.alterTable('uploads').addColumn('reserved', t.bigint, (c) => c.notNull().defaultTo(0)).execute();
  },
};
