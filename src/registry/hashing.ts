import { createHash, type Hash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';

export const EMPTY_SHA256 = createHash('sha256').digest('hex');

/**
 * Passes `source` through while feeding `hash`, so a body is hashed natively as it streams to the
 * store. Errors of the source (a client that disconnects) end the returned stream with that error.
 */
export function hashingStream(source: Readable, hash: Hash): Readable {
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  // pipeline, not pipe: a source that already failed, or fails later, or closes early (a client
  // that went away) destroys the transform with that error, so the store's write never hangs.
  pipeline(source, transform, () => {});
  return transform;
}
