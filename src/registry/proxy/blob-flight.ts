import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline, Transform, type Writable } from 'node:stream';
import { digestAlgorithm, makeDigest, type Digest } from '../../oci/digest.js';
import { OciError } from '../../oci/errors.js';
import type { BlobStore } from '../../storage/blob-store.js';

export interface FlightSource {
  /** the upstream's answer (status 200, the body to read), or undefined when it does not have the blob */
  fetch(): Promise<IncomingMessage | undefined>;
  /** the blob is verified and committed: make it readable in the repositories that asked for it */
  link(repositories: ReadonlySet<string>, size: number): Promise<void>;
}

/**
 * One fetch of a blob from an upstream, however many clients ask for it while it runs (single
 * flight, per process). The bytes go at once to the blob store (an upload, committed under the
 * digest only once the digest and size were verified) and to a spool file on local disk, which
 * every waiting client reads as it grows: a client does not wait for the whole blob to land, and
 * a client that joins late starts from the first byte. The last byte is held back from clients
 * until the digest is verified, so no client ever receives a complete body that is wrong; a fetch
 * that fails (the upstream stopped in the middle) cuts every client's download.
 */
export class BlobFlight {
  readonly digest: Digest;
  /** from the upstream's Content-Length, once it answered */
  size: number | undefined;
  /** bytes in the spool so far */
  written = 0;
  state: 'starting' | 'fetching' | 'verified' | 'failed' = 'starting';
  error: Error | undefined;
  /** resolves once the upstream answered with the blob (its size known), rejects when it did not */
  readonly ready: Promise<void>;
  /** settles when the flight ends (never rejects) */
  readonly done: Promise<void>;
  /** the repositories that asked for it while it ran */
  readonly repositories = new Set<string>();
  /** the ones it was linked into once verified (one that asked during the linking is linked by the cache afterwards) */
  readonly linked = new Set<string>();
  readonly #events = new EventEmitter();
  #spool: FileHandle | undefined;
  #spoolPath: string;
  #readers = 0;
  #closed = false;

  constructor(digest: Digest, repository: string, source: FlightSource, store: BlobStore, spoolDir = tmpdir()) {
    this.digest = digest;
    this.repositories.add(repository);
    this.#events.setMaxListeners(0);
    this.#spoolPath = join(spoolDir, `pier-proxy-${randomUUID()}.part`);
    let started!: () => void;
    let refused!: (error: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      refused = reject;
    });
    this.ready.catch(() => {});
    this.done = this.#run(source, store, started).then(
      () => {},
      (error: unknown) => {
        this.error = error instanceof Error ? error : new Error(String(error));
        this.state = 'failed';
        refused(this.error);
        this.#changed();
      },
    );
  }

  /**
   * A reader of the bytes, for one client; undefined when the flight ended before the reader
   * could join (the blob is then stored, or the flight failed: look at `state`).
   */
  attach(): FlightReader | undefined {
    if (!this.#spool || this.#closed) return undefined;
    this.#readers++;
    return new FlightReader(this, this.#spool, () => this.#release());
  }

  /** waits for the next progress or end */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#events.once('changed', resolve));
  }

  async #run(source: FlightSource, store: BlobStore, started: () => void): Promise<void> {
    const response = await source.fetch();
    if (!response) throw new OciError('BLOB_UNKNOWN', `blob ${this.digest} is unknown to the upstream registry`, { detail: { digest: this.digest } });
    const length = Number(response.headers['content-length']);
    this.size = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    const uploadId = `proxy-${randomUUID()}`;
    try {
      await mkdir(dirname(this.#spoolPath), { recursive: true, mode: 0o700 });
      this.#spool = await open(this.#spoolPath, 'w+', 0o600);
      await store.createUpload(uploadId);
    } catch (error) {
      response.destroy();
      await this.#cleanup();
      throw error;
    }
    this.state = 'fetching';
    started();
    const hash = createHash(digestAlgorithm(this.digest));
    const spool = this.#spool;
    const tee = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        hash.update(chunk);
        spool.write(chunk, 0, chunk.length, this.written).then(
          () => {
            this.written += chunk.length;
            this.#changed();
            callback(null, chunk);
          },
          (error: unknown) => callback(error as Error),
        );
      },
    });
    pipeline(response, tee, () => {});
    try {
      const size = await store.append(uploadId, 0, tee);
      if (this.size !== undefined && size !== this.size) throw new Error(`the upstream sent ${size} bytes of blob ${this.digest}, not the ${this.size} it announced`);
      const actual = makeDigest(digestAlgorithm(this.digest), hash.digest('hex'));
      if (actual !== this.digest) throw new Error(`the upstream sent bytes whose digest is ${actual}, not ${this.digest}`);
      this.size = size;
      await store.commit(uploadId, this.digest, size);
      const repositories = new Set(this.repositories);
      await source.link(repositories, size);
      for (const repository of repositories) this.linked.add(repository);
    } catch (error) {
      response.destroy();
      await store.abortUpload(uploadId).catch(() => {});
      await this.#cleanup();
      throw error;
    }
    this.state = 'verified';
    this.#changed();
    await this.#cleanup();
  }

  #changed(): void {
    this.#events.emit('changed');
  }

  /** The spool goes once the flight ended; its file handle once the last reader let go. */
  async #cleanup(): Promise<void> {
    await unlink(this.#spoolPath).catch(() => {});
    if (this.#readers === 0) await this.#close();
  }

  async #release(): Promise<void> {
    this.#readers--;
    if (this.#readers === 0 && (this.state === 'verified' || this.state === 'failed')) await this.#close();
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#spool?.close().catch(() => {});
  }
}

/** One client's view of a flight: the bytes as they land, the last one only once verified. */
export class FlightReader {
  #released = false;

  constructor(
    private readonly flight: BlobFlight,
    private readonly spool: FileHandle,
    private readonly release: () => Promise<void>,
  ) {}

  /** Writes the whole blob into `destination`; rejects when the flight fails (cut the client's download then). */
  async writeTo(destination: Writable): Promise<void> {
    let position = 0;
    try {
      for (;;) {
        if (destination.destroyed) return;
        const flight = this.flight;
        const available = flight.state === 'verified' ? flight.written : flight.written - 1;
        if (position < available) {
          const buffer = Buffer.allocUnsafe(Math.min(256 * 1024, available - position));
          const { bytesRead } = await this.spool.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw new Error('the spool file ended early');
          position += bytesRead;
          if (!destination.write(buffer.subarray(0, bytesRead))) await drained(destination);
          continue;
        }
        if (flight.state === 'failed') throw flight.error ?? new Error('the upstream fetch failed');
        if (flight.state === 'verified') return;
        await flight.changed();
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.release();
  }
}

/** 'drain', or the destination going away (a client that disconnects). */
async function drained(destination: Writable): Promise<void> {
  const controller = new AbortController();
  try {
    await Promise.race([once(destination, 'drain', { signal: controller.signal }), once(destination, 'close', { signal: controller.signal })]);
  } finally {
    controller.abort();
  }
}

/** The flights of one process, by digest: a second client of the same missing blob joins the first. */
export class BlobFlights {
  readonly #flights = new Map<string, BlobFlight>();

  constructor(
    private readonly store: BlobStore,
    private readonly spoolDir?: string,
  ) {
    // what a process killed in the middle of a fetch left (a running replica's spool is younger)
    if (spoolDir) void sweepSpool(spoolDir, Date.now() - 24 * 3_600_000);
  }

  join(digest: Digest, repository: string, source: () => FlightSource): BlobFlight {
    const running = this.#flights.get(digest);
    if (running && (running.state === 'starting' || running.state === 'fetching')) {
      running.repositories.add(repository);
      return running;
    }
    const flight = new BlobFlight(digest, repository, source(), this.store, this.spoolDir);
    this.#flights.set(digest, flight);
    void flight.done.then(() => {
      if (this.#flights.get(digest) === flight) this.#flights.delete(digest);
    });
    return flight;
  }

  /** the flight of a digest, while it runs */
  get(digest: string): BlobFlight | undefined {
    return this.#flights.get(digest);
  }
}

async function sweepSpool(dir: string, olderThan: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!/^pier-proxy-[\w-]+\.part$/.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < olderThan) await unlink(path).catch(() => {});
  }
}
