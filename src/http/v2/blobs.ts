import type { V2Context } from './context.js';
import { parseRangeHeader } from './range.js';
import { sendUpstreamBlob } from './upstream-blob.js';

export async function headOrGetBlob(ctx: V2Context, digestParam: string): Promise<void> {
  const { registry, request, reply, name } = ctx;
  const found = await registry.blobs.stat(name, digestParam, !ctx.head);
  // a proxied repository's blob that its upstream is sending right now
  if (found.download) return sendUpstreamBlob(ctx, found.digest, found.size, found.download);
  const { digest } = found;
  const size = found.size ?? 0;
  const range = parseRangeHeader(request.headers.range, size);
  if (!ctx.head) {
    // The store may let the client fetch the bytes from it directly (S3 with redirect=true): only
    // now, once the caller was authorized and the repository holds the blob. A presigned URL
    // expires, so nothing may cache the redirect; the client sends its Range header there.
    const location = await registry.blobs.redirectUrl(digest);
    if (location) {
      await reply.code(307).headers({ location, 'docker-content-digest': digest, 'cache-control': 'no-store' }).send();
      return;
    }
  }
  const status = range ? 206 : 200;
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
    'cache-control': 'max-age=31536000',
    'content-length': String(range ? range.end - range.start + 1 : size),
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${size}` } : {}),
  };
  if (ctx.head) {
    await reply.code(status).headers(headers).send();
    return;
  }
  // The body bypasses Fastify's stream piping: the store writes into the response with reused
  // buffers, which on this path is the difference between 1 and 3 GB/s (bench/README.md). Until
  // the blob is open, a failure is an ordinary error response, without these headers.
  const res = reply.raw;
  const server = request.server.server;
  try {
    await registry.blobs.writeTo(digest, size, range, res, () => {
      reply.hijack();
      res.writeHead(status, { ...(reply.getHeaders() as Record<string, string>), ...headers });
    });
    res.end();
  } catch (error) {
    if (!res.headersSent) throw error;
    request.log.warn({ err: error, digest }, 'blob download ended early');
    res.destroy();
  } finally {
    // a server that is closing does not keep this connection alive
    if (!server.listening) server.closeIdleConnections();
  }
}

export async function deleteBlob(ctx: V2Context, digestParam: string): Promise<void> {
  await ctx.registry.blobs.delete(ctx.name, digestParam, ctx.actor);
  await ctx.deleted?.();
  await ctx.reply.code(202).header('content-length', '0').send();
}
