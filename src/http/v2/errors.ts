import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { OciError } from '../../oci/errors.js';

/** Renders any error as the OCI envelope, once, for every /v2 route. */
export function sendOciError(reply: FastifyReply, error: unknown, log: FastifyBaseLogger, head = false): FastifyReply {
  const oci = toOciError(error, log);
  reply.code(oci.status).headers(oci.headers).header('content-type', 'application/json');
  if (head) return reply.header('content-length', '0').send();
  return reply.send(JSON.stringify(oci.toEnvelope()));
}

function toOciError(error: unknown, log: FastifyBaseLogger): OciError {
  if (error instanceof OciError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET') {
    return new OciError('BLOB_UPLOAD_INVALID', 'the request body ended early');
  }
  log.error({ err: error }, 'unexpected error on /v2');
  return new OciError('UNKNOWN', 'internal error');
}
