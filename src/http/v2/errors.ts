import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { OciError } from '../../oci/errors.js';
import { StorageUnavailable } from '../../storage/blob-store.js';
import { noteRefusal } from '../refusals.js';

/** Renders any error as the OCI envelope, once, for every /v2 route. */
export function sendOciError(reply: FastifyReply, error: unknown, log: FastifyBaseLogger, head = false): FastifyReply {
  const oci = toOciError(error, log);
  if (oci.byPlan) noteRefusal(reply.request, 'plan');
  reply.code(oci.status).headers(oci.headers).header('content-type', 'application/json');
  if (head) return reply.header('content-length', '0').send();
  return reply.send(JSON.stringify(oci.toEnvelope()));
}

/** How long the same storage problem stays out of the log once it was written. */
const STORAGE_LOG_INTERVAL_MS = 60_000;
const storageLogged = new Map<string, number>();

function toOciError(error: unknown, log: FastifyBaseLogger): OciError {
  if (error instanceof OciError) return error;
  if (error instanceof StorageUnavailable) {
    // the operator's problem, said once a minute (not a stack per request); the client is told to come back
    const now = Date.now();
    if ((storageLogged.get(error.message) ?? 0) + STORAGE_LOG_INTERVAL_MS <= now) {
      storageLogged.set(error.message, now);
      log.error({ storage: error.message }, `the storage is unavailable: ${error.message}`);
    }
    return new OciError('UNKNOWN', 'the registry cannot use its storage right now; try again later', { status: 503, headers: { 'retry-after': '30' } });
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET') {
    return new OciError('BLOB_UPLOAD_INVALID', 'the request body ended early');
  }
  log.error({ err: error }, 'unexpected error on /v2');
  return new OciError('UNKNOWN', 'internal error');
}
