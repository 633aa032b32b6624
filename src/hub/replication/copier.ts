import { OciError } from '../../oci/errors.js';
import { parseManifest, type ParsedManifest } from '../../oci/manifest.js';
import { isNonDistributable, MediaType } from '../../oci/media-types.js';
import { referrersTag } from '../../registry/remote/registry-client.js';
import type { Endpoint, EndpointManifest } from './endpoints.js';

/** What one run copied, per repository and tag, with its totals and errors. */
export interface CopyReport {
  repositories: RepositoryReport[];
  manifestsCopied: number;
  manifestsSkipped: number;
  blobsCopied: number;
  /** the other side had them (a HEAD said so) or linked them from another repository (a mount) */
  blobsSkipped: number;
  blobsMounted: number;
  bytesCopied: number;
  errors: string[];
}

export interface RepositoryReport {
  source: string;
  destination: string;
  items: Array<{ reference: string; digest?: string; result: 'copied' | 'unchanged' | 'missing' | 'failed'; referrers?: number; error?: string }>;
}

export function emptyReport(): CopyReport {
  return { repositories: [], manifestsCopied: 0, manifestsSkipped: 0, blobsCopied: 0, blobsSkipped: 0, blobsMounted: 0, bytesCopied: 0, errors: [] };
}

const REFERRER_DEPTH = 4;

/**
 * Copies tags (and manifests by digest) from one endpoint to another byte for byte: manifests keep
 * their digests, an index goes with all its children, and the referrers of each (signatures,
 * SBOMs, and theirs) follow. Nothing the target has is sent again: a manifest present by digest is
 * skipped with all it names, a blob the target has (HEAD) is skipped, one it holds in another
 * repository is mounted. Where the target indexes no subjects (no referrers API, as the reference
 * registry), the spec's fallback tag (`sha256-<hex>`, an index of the referrers) is kept up to date.
 */
export class Copier {
  /** a target repository that has each blob, learnt during the run: mounts come from there */
  readonly #blobAt = new Map<string, string>();
  readonly #present = new Set<string>();

  constructor(
    private readonly source: Endpoint,
    private readonly target: Endpoint,
    readonly report: CopyReport,
    /**
     * Target repositories that may hold a blob already (earlier runs of the rule copied the
     * source repositories that hold it there): a mount from one of them spares the upload.
     */
    private readonly mountCandidates: (digest: string, targetRepository: string) => Promise<string[]> = async () => [],
  ) {}

  /** Copies what `tag` points at, then points the target's tag there. */
  async copyTag(sourceRepository: string, targetRepository: string, tag: string): Promise<void> {
    const entry = this.#entry(sourceRepository, targetRepository);
    try {
      const manifest = await this.source.getManifest(sourceRepository, tag);
      if (!manifest) {
        entry.items.push({ reference: tag, result: 'missing' });
        return;
      }
      const current = await this.target.digestOf(targetRepository, tag);
      let result: 'copied' | 'unchanged' = 'unchanged';
      if (current !== manifest.digest) {
        await this.#copyTree(sourceRepository, targetRepository, manifest, tag);
        result = 'copied';
      }
      const referrers = await this.#copyReferrersOfTree(sourceRepository, targetRepository, manifest);
      entry.items.push({ reference: tag, digest: manifest.digest, result, ...(referrers > 0 ? { referrers } : {}) });
    } catch (error) {
      this.#fail(entry, tag, error);
    }
  }

  /** Copies one manifest by digest (a referrer pushed after its subject, an untagged push). */
  async copyDigest(sourceRepository: string, targetRepository: string, digest: string): Promise<void> {
    const entry = this.#entry(sourceRepository, targetRepository);
    try {
      const manifest = await this.source.getManifest(sourceRepository, digest);
      if (!manifest) {
        entry.items.push({ reference: digest, result: 'missing' });
        return;
      }
      const copied = await this.#copyTree(sourceRepository, targetRepository, manifest, digest);
      const referrers = await this.#copyReferrersOfTree(sourceRepository, targetRepository, manifest);
      entry.items.push({ reference: digest, digest, result: copied ? 'copied' : 'unchanged', ...(referrers > 0 ? { referrers } : {}) });
    } catch (error) {
      this.#fail(entry, digest, error);
    }
  }

  /** A manifest with everything it names, children first; false when the target had it already. */
  async #copyTree(sourceRepository: string, targetRepository: string, manifest: EndpointManifest, reference: string): Promise<boolean> {
    const key = `${targetRepository}@${manifest.digest}`;
    const byDigest = reference === manifest.digest;
    if (byDigest && (this.#present.has(key) || (await this.target.digestOf(targetRepository, manifest.digest)) === manifest.digest)) {
      this.#present.add(key);
      this.report.manifestsSkipped++;
      return false;
    }
    const parsed = parse(manifest);
    if (parsed.kind === 'index') {
      for (const child of parsed.manifests) {
        const body = await this.source.getManifest(sourceRepository, child.digest);
        if (!body) throw new Error(`${this.source.label} lists ${child.digest} in ${manifest.digest} but does not have it`);
        await this.#copyTree(sourceRepository, targetRepository, body, child.digest);
      }
    } else {
      for (const blob of [parsed.config!, ...parsed.layers]) {
        if (isNonDistributable(blob.mediaType) && blob.urls?.length) continue;
        await this.#copyBlob(sourceRepository, targetRepository, blob.digest);
      }
    }
    const { subjectTaken } = await this.target.putManifest(targetRepository, reference, manifest.body, manifest.mediaType);
    this.#present.add(key);
    this.report.manifestsCopied++;
    if (parsed.subject && !subjectTaken) await this.#addToReferrersTag(targetRepository, parsed.subject.digest, manifest, parsed);
    return true;
  }

  async #copyBlob(sourceRepository: string, targetRepository: string, digest: string): Promise<void> {
    if (await this.target.hasBlob(targetRepository, digest)) {
      this.report.blobsSkipped++;
      this.#blobAt.set(digest, targetRepository);
      return;
    }
    if (await this.#mount(sourceRepository, targetRepository, digest)) {
      this.report.blobsMounted++;
      this.report.blobsSkipped++;
      this.#blobAt.set(digest, targetRepository);
      return;
    }
    const { size, stream } = await this.source.openBlob(sourceRepository, digest);
    try {
      await this.target.putBlob(targetRepository, digest, size, stream);
    } catch (error) {
      stream.destroy();
      throw error;
    }
    this.report.blobsCopied++;
    this.report.bytesCopied += size;
    this.#blobAt.set(digest, targetRepository);
  }

  /**
   * Cross-repository mount: from where this run put the blob, else from the repositories the
   * caller names (the target checks the credentials may read them); a target that mounts from
   * wherever it stores a blob (this registry) is asked only for a blob the source confirms holding.
   */
  async #mount(sourceRepository: string, targetRepository: string, digest: string): Promise<boolean> {
    const known = this.#blobAt.get(digest);
    const candidates = known !== undefined ? [known] : (await this.mountCandidates(digest, targetRepository)).filter((r) => r !== targetRepository).slice(0, 3);
    for (const from of candidates) {
      if (await this.target.mountBlob(targetRepository, digest, from)) return true;
    }
    if (candidates.length > 0 || !this.target.mountsFromAnywhere) return false;
    return (await this.source.hasBlob(sourceRepository, digest)) && this.target.mountBlob(targetRepository, digest, undefined);
  }

  /** The referrers of a manifest and of an index's children, and theirs; resolves with how many were copied. */
  async #copyReferrersOfTree(sourceRepository: string, targetRepository: string, manifest: EndpointManifest): Promise<number> {
    const parsed = parse(manifest);
    let copied = await this.#copyReferrers(sourceRepository, targetRepository, manifest.digest, 0);
    for (const child of parsed.manifests) copied += await this.#copyReferrers(sourceRepository, targetRepository, child.digest, 0);
    return copied;
  }

  async #copyReferrers(sourceRepository: string, targetRepository: string, subject: string, depth: number): Promise<number> {
    if (depth >= REFERRER_DEPTH) return 0;
    let copied = 0;
    for (const referrer of await this.source.referrers(sourceRepository, subject)) {
      const manifest = await this.source.getManifest(sourceRepository, referrer.digest);
      if (!manifest) continue;
      if (await this.#copyTree(sourceRepository, targetRepository, manifest, manifest.digest)) copied++;
      copied += await this.#copyReferrers(sourceRepository, targetRepository, manifest.digest, depth + 1);
    }
    return copied;
  }

  /** Where the target has no referrers API: the index tagged `sha256-<hex>` lists the subject's referrers. */
  async #addToReferrersTag(targetRepository: string, subject: string, manifest: EndpointManifest, parsed: ParsedManifest): Promise<void> {
    const tag = referrersTag(subject);
    const existing = await this.target.getManifest(targetRepository, tag);
    const index = existing ? (JSON.parse(existing.body.toString('utf8')) as { manifests?: Array<{ digest: string }> }) : undefined;
    const manifests = Array.isArray(index?.manifests) ? index.manifests : [];
    if (manifests.some((m) => m.digest === manifest.digest)) return;
    manifests.push({
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.body.length,
      ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
      ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
    } as { digest: string });
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
    await this.target.putManifest(targetRepository, tag, body, MediaType.OciIndex);
  }

  #entry(source: string, destination: string): RepositoryReport {
    let entry = this.report.repositories.find((r) => r.source === source && r.destination === destination);
    if (!entry) {
      entry = { source, destination, items: [] };
      this.report.repositories.push(entry);
    }
    return entry;
  }

  #fail(entry: RepositoryReport, reference: string, error: unknown): void {
    const message = (error as Error).message || String(error);
    entry.items.push({ reference, result: 'failed', error: message });
    this.report.errors.push(`${entry.source}:${reference} -> ${this.target.label} ${entry.destination}: ${message}`);
  }
}

function parse(manifest: EndpointManifest): ParsedManifest {
  try {
    return parseManifest(manifest.body, manifest.mediaType);
  } catch (error) {
    if (error instanceof OciError) throw new Error(`manifest ${manifest.digest} cannot be copied: ${error.message}`);
    throw error;
  }
}
