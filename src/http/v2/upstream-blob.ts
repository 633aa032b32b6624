import type { Digest } from '../../oci/digest.js';
import type { FlightReader } from '../../registry/proxy/blob-flight.js';
import type { V2Context } from './context.js';

/**
 * A blob of a proxied repository that is being fetched from its upstream: sent as the fetch brings
 * it (the client does not wait for the whole blob to land). A Range is not honoured here (the
 * whole blob, 200, which HTTP allows); once stored, the blob is served like any other. A fetch
 * that fails in the middle cuts the connection, so the client sees a short body and retries.
 */
export async function sendUpstreamBlob(ctx: V2Context, digest: Digest, size: number | undefined, download: FlightReader): Promise<void> {
  const { request, reply } = ctx;
  const res = reply.raw;
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    etag: `"${digest}"`,
    ...(size !== undefined ? { 'content-length': String(size) } : {}),
  };
  reply.hijack();
  res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...headers });
  try {
    await download.writeTo(res);
    res.end();
  } catch (error) {
    request.log.warn({ err: error, digest, repository: ctx.name }, 'blob download from the upstream ended early');
    res.destroy();
  } finally {
    await download.close();
  }
}
