import { PassThrough, type Readable } from 'node:stream';
import type { Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { RepositoryName } from '../../oci/names.js';
import type { Actor } from '../../registry/ports.js';
import { RegistryClient, RemoteError, type RemoteDescriptor } from '../../registry/remote/registry-client.js';
import type { Registry } from '../../registry/registry.js';

export interface EndpointManifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

/**
 * One side of a replication: this registry, or another one. The copier (copier.ts) reads from one
 * endpoint and writes to the other the same way in both directions.
 */
export interface Endpoint {
  /** `local`, or the other registry's host: for reports */
  readonly label: string;
  /** whether mountBlob without `from` looks for the blob in every repository (this registry does) */
  readonly mountsFromAnywhere: boolean;
  listRepositories(): Promise<string[]>;
  /** every tag; none for a repository the endpoint does not know */
  listTags(repository: string): Promise<string[]>;
  /** where a tag points, without its body (a HEAD on another registry) */
  digestOf(repository: string, reference: string): Promise<string | undefined>;
  getManifest(repository: string, reference: string): Promise<EndpointManifest | undefined>;
  /** stores a manifest byte for byte; `subjectTaken`: the endpoint indexes its subject (the referrers API) */
  putManifest(repository: string, reference: string, body: Buffer, mediaType: string): Promise<{ subjectTaken: boolean }>;
  hasBlob(repository: string, digest: string): Promise<boolean>;
  /**
   * Links a blob the endpoint holds elsewhere: from `from` (another registry checks the caller
   * may read it), or, here, from wherever it is stored, which the copier only asks for a blob the
   * source has confirmed holding. False when it could not.
   */
  mountBlob(repository: string, digest: string, from: string | undefined): Promise<boolean>;
  openBlob(repository: string, digest: string): Promise<{ size: number; stream: Readable }>;
  putBlob(repository: string, digest: string, size: number, stream: Readable): Promise<void>;
  /** the manifests that refer to `digest` (signatures, SBOMs) */
  referrers(repository: string, digest: string): Promise<RemoteDescriptor[]>;
}

/** This registry, through its engine (no HTTP): what a replication reads and writes here. */
export class LocalEndpoint implements Endpoint {
  readonly label = 'local';
  readonly mountsFromAnywhere = true;

  constructor(
    private readonly registry: Registry,
    /** who writes (events and the push gate see it); replication acts for nobody in particular */
    private readonly actor: Actor = {},
  ) {}

  async listRepositories(): Promise<string[]> {
    return (await this.registry.listings.catalog({})).items;
  }

  async listTags(repository: string): Promise<string[]> {
    try {
      return (await this.registry.listings.tags(repository as RepositoryName, {})).items;
    } catch (error) {
      if (error instanceof OciError && error.code === 'NAME_UNKNOWN') return [];
      throw error;
    }
  }

  async digestOf(repository: string, reference: string): Promise<string | undefined> {
    return (await this.getManifest(repository, reference))?.digest;
  }

  async getManifest(repository: string, reference: string): Promise<EndpointManifest | undefined> {
    try {
      const record = await this.registry.manifests.get(repository as RepositoryName, reference, undefined);
      return { digest: record.digest, mediaType: record.mediaType, body: record.content };
    } catch (error) {
      if (error instanceof OciError && (error.code === 'MANIFEST_UNKNOWN' || error.code === 'NAME_UNKNOWN')) return undefined;
      throw error;
    }
  }

  async putManifest(repository: string, reference: string, body: Buffer, mediaType: string): Promise<{ subjectTaken: boolean }> {
    await this.registry.manifests.put(repository as RepositoryName, reference, body, mediaType, [], this.actor);
    return { subjectTaken: true };
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    try {
      await this.registry.blobs.stat(repository as RepositoryName, digest);
      return true;
    } catch (error) {
      if (error instanceof OciError && error.code === 'BLOB_UNKNOWN') return false;
      throw error;
    }
  }

  async mountBlob(repository: string, digest: string, from: string | undefined): Promise<boolean> {
    const result = await this.registry.blobs.mount(repository as RepositoryName, digest, from, this.actor);
    if (result.mounted) return true;
    await this.registry.uploads.cancel(result.upload.repository, result.upload.uploadId);
    return false;
  }

  async openBlob(repository: string, digest: string): Promise<{ size: number; stream: Readable }> {
    const found = await this.registry.blobs.stat(repository as RepositoryName, digest);
    const size = found.size ?? 0;
    const stream = new PassThrough();
    this.registry.blobs.writeTo(found.digest, size, undefined, stream, () => {}).then(
      () => stream.end(),
      (error: unknown) => stream.destroy(error as Error),
    );
    return { size, stream };
  }

  async putBlob(repository: string, digest: string, size: number, stream: Readable): Promise<void> {
    await this.registry.uploads.monolithic(repository as RepositoryName, digest, stream, { length: size }, this.actor);
  }

  async referrers(repository: string, digest: string): Promise<RemoteDescriptor[]> {
    return (await this.registry.listings.referrers(repository as RepositoryName, digest)).manifests;
  }
}

/** Another registry, through its HTTP API (registry/remote/: token auth, redirects). */
export class RemoteEndpoint implements Endpoint {
  readonly label: string;
  readonly mountsFromAnywhere = false;

  constructor(
    private readonly client: RegistryClient,
    private readonly maxManifestBytes: number,
  ) {
    this.label = client.host;
  }

  listRepositories(): Promise<string[]> {
    return this.client.catalog();
  }

  listTags(repository: string): Promise<string[]> {
    return this.client.allTags(repository);
  }

  async digestOf(repository: string, reference: string): Promise<string | undefined> {
    return (await this.client.headManifest(repository, reference))?.digest;
  }

  async getManifest(repository: string, reference: string): Promise<EndpointManifest | undefined> {
    const manifest = await this.client.getManifest(repository, reference, this.maxManifestBytes);
    return manifest && { digest: manifest.digest, mediaType: manifest.mediaType, body: manifest.body! };
  }

  async putManifest(repository: string, reference: string, body: Buffer, mediaType: string): Promise<{ subjectTaken: boolean }> {
    const answer = await this.client.putManifest(repository, reference, body, mediaType);
    return { subjectTaken: answer.subject !== undefined };
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    return (await this.client.headBlob(repository, digest)) !== undefined;
  }

  async mountBlob(repository: string, digest: string, from: string | undefined): Promise<boolean> {
    if (from === undefined) return false;
    return this.client.mountBlob(repository, digest, from);
  }

  async openBlob(repository: string, digest: string): Promise<{ size: number; stream: Readable }> {
    const response = await this.client.getBlob(repository, digest);
    if (!response) throw new RemoteError('invalid', `${this.label} does not have blob ${digest} of ${repository}, which its manifest names`);
    const size = Number(response.headers['content-length']);
    if (!Number.isSafeInteger(size)) {
      response.destroy();
      throw new RemoteError('invalid', `${this.label} sent blob ${digest} without a Content-Length`);
    }
    return { size, stream: response };
  }

  async putBlob(repository: string, digest: string, size: number, stream: Readable): Promise<void> {
    await this.client.pushBlob(repository, digest as Digest, size, () => stream);
  }

  referrers(repository: string, digest: string): Promise<RemoteDescriptor[]> {
    return this.client.referrers(repository, digest, this.maxManifestBytes);
  }
}
