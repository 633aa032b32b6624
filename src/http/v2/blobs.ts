import type { V2Context } from './context.js';
import { parseRangeHeader } from './range.js';

export async function headOrGetBlob(ctx: V2Context, digestParam: string): Promise<void> {
  const { registry, request, reply, name } = ctx;
  const { digest, size } = await registry.blobs.stat(name, digestParam);
  const range = parseRangeHeader(request.headers.range, size);
  // Opened before any header is set, so that a failure answers with an error's headers only.
  const body = ctx.head ? undefined : await registry.blobs.open(digest, size, range);
  reply.headers({
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
    'cache-control': 'max-age=31536000',
    'content-length': String(range ? range.end - range.start + 1 : size),
  });
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
  await reply.send(body);
}

export async function deleteBlob(ctx: V2Context, digestParam: string): Promise<void> {
  await ctx.registry.blobs.delete(ctx.name, digestParam, ctx.actor);
  await ctx.reply.code(202).header('content-length', '0').send();
}
