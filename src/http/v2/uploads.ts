import { uploadHeaders } from '../../registry/uploads.js';
import type { ChunkInfo } from '../../registry/uploads.js';
import { blobLocation, discardBody, hasBody, type V2Context } from './context.js';
import { parseContentLength, parseContentRange } from './range.js';

/** POST: start a session, mount a blob, or take a whole blob in one request. */
export async function startUpload(ctx: V2Context): Promise<void> {
  const { registry, request, reply, name, query, actor } = ctx;
  const mount = query.get('mount');
  const digest = query.get('digest');
  if (mount !== null) {
    discardBody(request);
    const result = await registry.blobs.mount(name, mount, query.get('from') ?? undefined, actor);
    if (result.mounted) {
      await reply
        .code(201)
        .headers({ location: blobLocation(name, result.digest), 'docker-content-digest': result.digest, 'content-length': '0' })
        .send();
      return;
    }
    await reply.code(202).headers(uploadHeaders(name, result.upload.uploadId, 0)).header('content-length', '0').send();
    return;
  }
  if (digest !== null) {
    const result = await registry.uploads.monolithic(name, digest, request.raw, chunkInfo(ctx), actor);
    await reply
      .code(201)
      .headers({ location: blobLocation(name, result.digest), 'docker-content-digest': result.digest, 'content-length': '0' })
      .send();
    return;
  }
  discardBody(request);
  const upload = await registry.uploads.start(name, actor);
  await reply.code(202).headers(uploadHeaders(name, upload.uploadId, 0)).header('content-length', '0').send();
}

export async function uploadStatus(ctx: V2Context, uploadId: string): Promise<void> {
  const status = await ctx.registry.uploads.status(ctx.name, uploadId);
  await ctx.reply.code(204).headers(uploadHeaders(ctx.name, uploadId, status.size)).send();
}

export async function patchUpload(ctx: V2Context, uploadId: string): Promise<void> {
  const status = await ctx.registry.uploads.append(ctx.name, uploadId, ctx.request.raw, chunkInfo(ctx));
  await ctx.reply.code(202).headers(uploadHeaders(ctx.name, uploadId, status.size)).header('content-length', '0').send();
}

export async function completeUpload(ctx: V2Context, uploadId: string): Promise<void> {
  const { registry, request, reply, name, query, actor } = ctx;
  const body = hasBody(request) ? request.raw : undefined;
  const result = await registry.uploads.complete(name, uploadId, query.get('digest') ?? undefined, body, chunkInfo(ctx), actor);
  await reply
    .code(201)
    .headers({ location: blobLocation(name, result.digest), 'docker-content-digest': result.digest, 'content-length': '0' })
    .send();
}

export async function cancelUpload(ctx: V2Context, uploadId: string): Promise<void> {
  await ctx.registry.uploads.cancel(ctx.name, uploadId);
  await ctx.reply.code(204).send();
}

function chunkInfo(ctx: V2Context): ChunkInfo {
  const headers = ctx.request.headers;
  const info: ChunkInfo = {};
  const range = parseContentRange(headers['content-range']);
  if (range) info.range = range;
  const length = parseContentLength(headers['content-length']);
  if (length !== undefined) info.length = length;
  return info;
}
