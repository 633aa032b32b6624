import { OciError } from '../../oci/errors.js';
import { parseAccept } from '../../oci/accept.js';
import { manifestTooLarge } from '../../registry/manifests.js';
import type { PullGate } from '../../registry/ports.js';
import { manifestLocation, type V2Context } from './context.js';
import { parseContentLength } from './range.js';

/**
 * GET and HEAD. The pull gate answers first: a GET over the limit is refused before any lookup,
 * and every answer (a 404 too) carries the RateLimit headers when a limit applies. Only a GET the
 * gate counted is reported as a pull.
 */
export async function headOrGetManifest(ctx: V2Context, reference: string, gate: PullGate): Promise<void> {
  const { registry, request, reply, name, actor } = ctx;
  const pull = { repository: name, reference, actor, client: request.ip, get: !ctx.head };
  const admission = await gate.admit(pull);
  reply.headers(admission.headers);
  const record = await registry.manifests.get(name, reference, parseAccept(request.headers.accept), admission.counted ? { actor } : undefined);
  if (admission.counted && gate.served) await gate.served(pull, record);
  reply.headers({
    'content-type': record.mediaType,
    'content-length': String(record.size),
    'docker-content-digest': record.digest,
    etag: `"${record.digest}"`,
  });
  if (ctx.head) {
    await reply.send();
    return;
  }
  await reply.send(record.content);
}

export async function putManifest(ctx: V2Context, reference: string): Promise<void> {
  const { registry, request, reply, name, query, actor } = ctx;
  const body = await readManifestBody(ctx, registry.manifests.maxBytes);
  const pushed = await registry.manifests.put(name, reference, body, request.headers['content-type'], query.getAll('tag'), actor);
  reply.code(201).headers({
    location: manifestLocation(name, pushed.digest),
    'docker-content-digest': pushed.digest,
    'content-length': '0',
  });
  if (pushed.subject) reply.header('oci-subject', pushed.subject);
  await reply.send();
}

export async function deleteManifest(ctx: V2Context, reference: string): Promise<void> {
  await ctx.registry.manifests.delete(ctx.name, reference, ctx.actor);
  await ctx.deleted?.();
  await ctx.reply.code(202).header('content-length', '0').send();
}

/**
 * Reads a manifest body into memory, never more than the limit (then 413). Past the limit it
 * stops reading without destroying the request, so that the refusal (drainRefusedBody) reaches
 * a client that is still sending.
 */
async function readManifestBody(ctx: V2Context, maxBytes: number): Promise<Buffer> {
  const declared = parseContentLength(ctx.request.headers['content-length']);
  if (declared !== undefined && declared > maxBytes) throw manifestTooLarge(maxBytes);
  const raw = ctx.request.raw;
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const stop = (error?: unknown) => {
      raw.off('data', onData).off('end', onEnd).off('error', stop).off('aborted', onAborted);
      raw.pause();
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return stop(manifestTooLarge(maxBytes));
      chunks.push(chunk);
    };
    const onEnd = () => stop();
    const onAborted = () => stop(new OciError('SIZE_INVALID', 'the request body ended before its end'));
    raw.on('data', onData).on('end', onEnd).on('error', stop).on('aborted', onAborted);
  });
  if (declared !== undefined && size !== declared) throw new OciError('SIZE_INVALID', `received ${size} bytes, Content-Length said ${declared}`);
  return Buffer.concat(chunks, size);
}
