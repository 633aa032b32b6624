import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';

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
  source.once('error', (error) => transform.destroy(error));
  source.once('close', () => {
    if (!source.readableEnded) transform.destroy(new Error('the body ended before it was complete'));
  });
  return source.pipe(transform);
}
