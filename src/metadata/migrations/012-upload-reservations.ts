import type { Migration } from '../dialect.js';

/**
 * `uploads.reserved`: the bytes a body in flight may still add to an upload session (a chunk's
 * declared length, a one-request upload's, or what a streamed body reserved ahead of its bytes),
 * counted against the storage quota with the session's bytes, so that parallel uploads cannot each
 * take the room that is left. 0 between requests. Its own migration: 011 was applied already.
 */
export const uploadReservations: Migration = {
  name: '012-upload-reservations',
  async up(db, t) {
    await db.schema.alterTable('uploads').addColumn('reserved', t.bigint, (c) => c.notNull().defaultTo(0)).execute();
  },
};
