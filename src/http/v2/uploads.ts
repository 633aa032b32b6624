import type { Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { ChunkInfo } from '../../registry/uploads.js';
import { blobLocation, discardBody, hasBody, type V2Context } from './context.js';
import { parseContentLength, parseContentRange } from './range.js';

/** POST: start a session, mount a blob, or take a whole blob in one request. */
export async function startUpload(ctx: V2Context): Promise<void> {
  const { registry, request, name, query, actor } = ctx;
  const mount = query.get('mount');
  const digest = query.get('digest');
  if (mount !== null) {
    discardBody(request);
    const result = await registry.blobs.mount(name, mount, query.get('from') ?? undefined, actor, ctx.readable);
    if (result.mounted) return blobCreated(ctx, result.digest);
    return sessionAccepted(ctx, result.upload.uploadId, 0);
  }
  if (digest !== null) {
    const result = await registry.uploads.monolithic(name, digest, request.raw, chunkInfo(ctx), actor);
    return blobCreated(ctx, result.digest);
  }
  discardBody(request);
  const upload = await registry.uploads.start(name, actor);
  return sessionAccepted(ctx, upload.uploadId, 0);
}

export async function uploadStatus(ctx: V2Context, uploadId: string): Promise<void> {
  const status = await ctx.registry.uploads.status(ctx.name, uploadId);
  await ctx.reply.code(204).headers(uploadHeaders(ctx.name, uploadId, status.size)).send();
}

export async function patchUpload(ctx: V2Context, uploadId: string): Promise<void> {
  ctx.request.log.debug({ upload: uploadId, repository: ctx.name }, 'chunk upload begins');
  const status = await withResumeHint(ctx, uploadId, () => ctx.registry.uploads.append(ctx.name, uploadId, ctx.request.raw, chunkInfo(ctx)));
  return sessionAccepted(ctx, uploadId, status.size);
}

export async function completeUpload(ctx: V2Context, uploadId: string): Promise<void> {
  const { registry, request, name, query, actor } = ctx;
  const body = hasBody(request) ? request.raw : undefined;
  const result = await withResumeHint(ctx, uploadId, () =>
    registry.uploads.complete(name, uploadId, query.get('digest') ?? undefined, body, chunkInfo(ctx), actor),
  );
  return blobCreated(ctx, result.digest);
}

/** A chunk out of order answers 416 with where the upload stands, so a client can resume from there. */
async function withResumeHint<T>(ctx: V2Context, uploadId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const size = error instanceof OciError && error.code === 'RANGE_INVALID' ? (error.detail as { size?: unknown })?.size : undefined;
    if (typeof size === 'number') ctx.reply.headers(uploadHeaders(ctx.name, uploadId, size));
    throw error;
  }
}

export async function cancelUpload(ctx: V2Context, uploadId: string): Promise<void> {
  await ctx.registry.uploads.cancel(ctx.name, uploadId);
  await ctx.reply.code(204).send();
}

async function blobCreated(ctx: V2Context, digest: Digest): Promise<void> {
  await ctx.reply
    .code(201)
    .headers({ location: blobLocation(ctx.name, digest), 'docker-content-digest': digest, 'content-length': '0' })
    .send();
}

async function sessionAccepted(ctx: V2Context, uploadId: string, size: number): Promise<void> {
  await ctx.reply.code(202).headers(uploadHeaders(ctx.name, uploadId, size)).header('content-length', '0').send();
}

/** `Range: 0-<last byte>` as the spec writes it (no `bytes=`); an empty upload answers `0-0`. */
function uploadHeaders(name: string, uploadId: string, size: number): Record<string, string> {
  return {
    location: `/v2/${name}/blobs/uploads/${uploadId}`,
    range: `0-${Math.max(size - 1, 0)}`,
    'docker-upload-uuid': uploadId,
  };
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
