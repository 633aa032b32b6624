import { createHash } from 'node:crypto';
import { digestAlgorithm, isDigestLike, makeDigest, type Digest } from '../oci/digest.js';
import { OciError } from '../oci/errors.js';
import { defaultPlatformChild, parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { accepts } from '../oci/accept.js';
import { isIndexMediaType, isNonDistributable } from '../oci/media-types.js';
import { isValidTag, parseReference, parseTag, type Reference, type RepositoryName } from '../oci/names.js';
import { TagProtected, type ManifestRecord, type ManifestReference, type RegistryIndex } from '../metadata/registry-index.js';
import { BlobNotFound, type BlobStore } from '../storage/blob-store.js';
import { describeManifest, readBounded } from './manifest-details.js';
import type { Actor, Clock, ManifestCache, PushGate, RegistryEvents } from './ports.js';
import type { ProxyCache } from './proxy/proxy-cache.js';

export const DEFAULT_MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

export interface PushedManifest {
  digest: Digest;
  subject?: Digest;
  tags: string[];
}

export class ManifestService {
  constructor(
    private readonly index: RegistryIndex,
    private readonly gate: PushGate,
    private readonly events: RegistryEvents,
    private readonly clock: Clock,
    readonly maxBytes: number,
    private readonly cache: ManifestCache,
    private readonly store: BlobStore,
    /** fills misses of proxied repositories from their upstream */
    private readonly proxy?: ProxyCache,
  ) {}

  /** PUT: stores the bytes exactly as pushed, after checking that everything they name exists. */
  async put(
    repository: RepositoryName,
    referenceParam: string,
    body: Buffer,
    contentType: string | undefined,
    extraTags: string[],
    actor: Actor,
  ): Promise<PushedManifest> {
    const reference = parseReference(referenceParam);
    if (body.length > this.maxBytes) throw manifestTooLarge(this.maxBytes);
    const manifest = parseManifest(body, contentType);
    const algorithm = reference.kind === 'digest' ? digestAlgorithm(reference.digest) : 'sha256';
    const digest = makeDigest(algorithm, createHash(algorithm).update(body).digest('hex'));
    if (reference.kind === 'digest' && reference.digest !== digest) {
      throw new OciError('DIGEST_INVALID', `manifest digest is ${digest}, not ${reference.digest}`);
    }
    const tags = [...new Set([...(reference.kind === 'tag' ? [reference.tag] : []), ...extraTags.map(parseTag)])];

    const references = referencesOf(manifest);
    const blobs = references.filter((r) => r.kind === 'blob').map((r) => r.digest);
    await this.gate.check({ repository, actor, sizeDelta: body.length, operation: 'manifest', blobs, digest });
    const guard = tags.length > 0 ? await this.gate.tagGuard?.(repository, actor) : undefined;
    // read before the transaction (a config is a blob read); what it names is checked inside it
    const details = await describeManifest(manifest, {
      readConfig: (configDigest, limit) => this.readConfig(repository, configDigest, limit),
      children: (digests) => this.index.manifestDetails(repository, digests),
    });
    const { missing, mismatched } = await refusingProtectedTags(() => this.index.putManifest({
      repository,
      digest,
      mediaType: manifest.mediaType,
      content: body,
      artifactType: manifest.artifactType,
      subject: manifest.subject?.digest,
      annotations: manifest.annotations,
      references,
      tags,
      now: this.clock.now(),
      actor: actor.account,
      details,
      ...(guard && { guard }),
    }));
    if (missing.length > 0) {
      const first = missing[0]!;
      throw new OciError('MANIFEST_BLOB_UNKNOWN', `manifest references unknown ${first.kind} ${first.digest}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`, {
        detail: { digest: first.digest },
      });
    }
    if (mismatched) {
      const { reference, stored } = mismatched;
      const where = describeReference(manifest, reference.digest);
      throw new OciError('MANIFEST_INVALID', `${where} gives size ${reference.size} for ${reference.digest}, but the stored ${reference.kind} has ${stored} bytes`, {
        detail: { descriptor: where, digest: reference.digest, size: reference.size, stored },
      });
    }
    // before the push answers: the next GET of these tags, on any replica, sees the new manifest
    await this.cache.invalidate(repository);
    this.events.emit({ type: 'manifest.pushed', repository, digest, mediaType: manifest.mediaType, size: body.length, tags, actor });
    return { digest, subject: manifest.subject?.digest, tags };
  }

  /**
   * Computes the details of manifests pushed before Pier kept them (an upgrade), a batch at a
   * time: platform manifests first, then indexes (whose platforms read their children's). Run in
   * the background at start, stopped between manifests by `signal`; idempotent, so replicas
   * doing it at once only repeat work. Resolves to how many manifests got details.
   */
  async backfillDetails(options: { batch?: number; signal?: AbortSignal } = {}): Promise<number> {
    const batch = options.batch ?? 200;
    let done = 0;
    for (const indexes of [false, true]) {
      let after: { repository: string; digest: string } | undefined;
      for (;;) {
        const manifests = await this.index.manifestsWithoutDetails(indexes, after, batch);
        for (const m of manifests) {
          if (options.signal?.aborted) return done;
          const repository = m.repository as RepositoryName;
          let parsed: ParsedManifest;
          try {
            parsed = parseManifest(m.content, m.mediaType);
          } catch {
            continue; // accepted once, refused by a stricter parser now: nothing to show
          }
          const details = await describeManifest(parsed, {
            readConfig: (configDigest, limit) => this.readConfig(repository, configDigest, limit),
            children: (digests) => this.index.manifestDetails(repository, digests),
          });
          await this.index.addManifestDetails(m.repository, m.digest, details);
          done++;
        }
        if (manifests.length < batch) break;
        const last = manifests[manifests.length - 1]!;
        after = { repository: last.repository, digest: last.digest };
      }
    }
    return done;
  }

  /** A config blob linked into the repository, when it is at most `limit` bytes; else undefined. */
  private async readConfig(repository: RepositoryName, digest: Digest, limit: number): Promise<Buffer | undefined> {
    const link = await this.index.getBlobLink(repository, digest);
    if (!link || link.size > limit) return undefined;
    if (link.size === 0) return Buffer.alloc(0);
    try {
      return await readBounded(await this.store.read(digest, { start: 0, end: link.size - 1 }), limit);
    } catch (error) {
      // a blob the index links but the store lost: the push goes on without the config's details
      if (error instanceof BlobNotFound) return undefined;
      throw error;
    }
  }

  /**
   * GET and HEAD. A client gets the type that was pushed when it accepts it; a client that cannot
   * read an index gets, for a tag, the linux/amd64 child (a digest always names exactly one
   * manifest); anything else is MANIFEST_UNKNOWN, never a type the client did not ask for.
   * `pull` is set for a GET (HEAD is free): it is what pull counts and limits count.
   */
  async get(
    repository: RepositoryName,
    referenceParam: string,
    accepted: Set<string> | undefined,
    pull?: { actor: Actor },
  ): Promise<ManifestRecord> {
    const record = await this.negotiate(repository, referenceParam, accepted);
    if (pull) this.events.emit({ type: 'manifest.pulled', repository, digest: record.digest as Digest, reference: referenceParam, actor: pull.actor });
    return record;
  }

  private async negotiate(repository: RepositoryName, referenceParam: string, accepted: Set<string> | undefined): Promise<ManifestRecord> {
    const reference = lookupReference(referenceParam);
    const record = await this.lookup(repository, reference);
    if (!record) throw manifestUnknown(referenceParam);
    if (accepts(accepted, record.mediaType)) return record;
    if (reference.kind === 'tag' && isIndexMediaType(record.mediaType)) {
      const child = defaultPlatformChild(parseManifest(record.content, record.mediaType));
      if (child && accepts(accepted, child.mediaType)) {
        const childRecord = await this.lookup(repository, { kind: 'digest', digest: child.digest });
        if (childRecord) return childRecord;
      }
    }
    throw new OciError('MANIFEST_UNKNOWN', `manifest ${referenceParam} is a ${record.mediaType}, which the client does not accept`, {
      status: 404,
    });
  }

  /** The cache, else the index (and then the cache is filled, unless the repository changed meanwhile). */
  private async lookup(repository: RepositoryName, reference: Reference): Promise<ManifestRecord | undefined> {
    // a proxied repository answers from its own cache, which asks the upstream when a tag is stale
    const proxied = await this.proxy?.manifest(repository, reference);
    if (proxied) return proxied.record;
    const key = reference.kind === 'tag' ? reference.tag : reference.digest;
    const cached = await this.cache.read(repository, key);
    if (cached.record) return cached.record;
    const record =
      reference.kind === 'tag'
        ? await this.index.getTaggedManifest(repository, reference.tag)
        : await this.index.getManifest(repository, reference.digest);
    // not awaited: the answer does not wait for the cache (fill never throws)
    if (record) void cached.fill(record);
    return record;
  }

  /**
   * DELETE by digest removes the manifest and its tags; DELETE by tag removes only the tag. A tag's
   * deletion may carry a `reason` (its event's) and `ifUnchanged`: the tag goes only while it still
   * names that digest, pushed at that time (else MANIFEST_UNKNOWN, as for a tag already gone).
   */
  async delete(repository: RepositoryName, referenceParam: string, actor: Actor, options: TagDeletion = {}): Promise<void> {
    const reference = lookupReference(referenceParam);
    const guard = await this.gate.tagGuard?.(repository, actor);
    const deletion = { now: this.clock.now(), actor: actor.account, ...(guard && { guard }) };
    if (reference.kind === 'tag') {
      if (!(await refusingProtectedTags(() => this.index.deleteTag(repository, reference.tag, { ...deletion, ...options })))) throw manifestUnknown(referenceParam);
      await this.cache.invalidate(repository);
      this.events.emit({ type: 'tag.deleted', repository, tag: reference.tag, actor });
      return;
    }
    if (!(await refusingProtectedTags(() => this.index.deleteManifest(repository, reference.digest, deletion)))) throw manifestUnknown(referenceParam);
    await this.cache.invalidate(repository);
    this.events.emit({ type: 'manifest.deleted', repository, digest: reference.digest, actor });
  }
}

/** What a tag's deletion may say and require (ManifestService.delete). */
export interface TagDeletion {
  reason?: string;
  ifUnchanged?: { digest: string; updatedAt: number };
}

/** An immutable tag that a change would move or delete: DENIED, naming the rule (nothing was written). */
async function refusingProtectedTags<T>(change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (error) {
    if (error instanceof TagProtected) throw new OciError('DENIED', error.message, { detail: { reason: 'immutable tag' } });
    throw error;
  }
}

/** For reads and deletes, a tag that could never have been pushed is simply unknown (404), as the spec's tests expect. */
function lookupReference(reference: string): Reference {
  if (!isDigestLike(reference) && !isValidTag(reference)) throw manifestUnknown(reference);
  return parseReference(reference);
}

/** What a manifest refers to: its blobs (less non-distributable layers that live elsewhere), or an index's children. */
export function referencesOf(manifest: ParsedManifest): ManifestReference[] {
  if (manifest.kind === 'index') return manifest.manifests.map((m) => ({ digest: m.digest, kind: 'manifest', size: m.size }));
  const blobs = [manifest.config!, ...manifest.layers].filter((d) => !(isNonDistributable(d.mediaType) && d.urls?.length));
  return blobs.map((d) => ({ digest: d.digest, kind: 'blob', size: d.size }));
}

/** Where a digest is named in a manifest, as a JSON path: `layers[2]`, `config`, `manifests[0]`. */
function describeReference(manifest: ParsedManifest, digest: string): string {
  if (manifest.kind === 'index') return `manifests[${manifest.manifests.findIndex((m) => m.digest === digest)}]`;
  if (manifest.config?.digest === digest) return 'config';
  return `layers[${manifest.layers.findIndex((l) => l.digest === digest)}]`;
}

export function manifestTooLarge(maxBytes: number): OciError {
  return new OciError('SIZE_INVALID', `manifest is larger than the limit of ${maxBytes} bytes`, { status: 413 });
}

function manifestUnknown(reference: string): OciError {
  return new OciError('MANIFEST_UNKNOWN', `manifest ${reference} is unknown to this repository`, { detail: { reference } });
}
