import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { MetadataDatabase } from '../metadata/database.js';
import { makeDigest, type Digest } from '../oci/digest.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { GcIndex } from '../metadata/gc-index.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import type { RepositoryName } from '../oci/names.js';
import type { BlobStore } from '../storage/blob-store.js';
import { createFsStore } from '../storage/fs-store.js';
import { createMemoryStore } from '../storage/memory-store.js';
import type { PushAllowance, PushCheck, PushGate, RegistryEvent } from './ports.js';
import { Registry, type RegistryOptions } from './registry.js';

/**
 * Test support for the engine's own tests (not shipped: excluded from the build): the registry's
 * services over a real RegistryIndex and a real BlobStore, on every database (SQLite, PostgreSQL)
 * and every local store (memory, filesystem), with a clock, a push gate and events the test sees.
 */
export interface Engine {
  index: RegistryIndex;
  gcIndex: GcIndex;
  store: BlobStore;
  /** the registry the tests drive; `replica()` makes another over the same index and store */
  registry: Registry;
  clock: { now(): number; advance(ms: number): void };
  /** what the gate was asked, in order; `answer` decides (default: let everything through) */
  gate: PushGate & { checks: PushCheck[]; answer: (check: PushCheck) => PushAllowance | void };
  events: RegistryEvent[];
  /** another Registry over the same index and store (what a second replica, or a restart, sees) */
  replica(options?: Partial<RegistryOptions>): Registry;
  close(): Promise<void>;
}

export interface EngineSetup {
  /** e.g. 'sqlite, memory store' */
  name: string;
  /** for `describe`: PostgreSQL is skipped with the reason when it does not answer, unless CI=true */
  options: { skip?: string };
  open(options?: Partial<RegistryOptions>): Promise<Engine>;
}

const STORES: Array<{ name: string; open: () => Promise<{ store: BlobStore; cleanup?: () => Promise<void> }> }> = [
  { name: 'memory store', open: async () => ({ store: createMemoryStore() }) },
  {
    name: 'filesystem store',
    open: async () => {
      const root = await mkdtemp(join(tmpdir(), 'pier-engine-'));
      return { store: createFsStore({ root, fsync: false }), cleanup: () => rm(root, { recursive: true, force: true }) };
    },
  },
];

/** Every database × every local store. */
export async function engineSetups(): Promise<EngineSetup[]> {
  const setups: EngineSetup[] = [];
  for (const database of await testDatabases()) {
    for (const storage of STORES) {
      setups.push({
        name: `${database.name}, ${storage.name}`,
        options: database.options,
        open: async (options) => openEngine(await database.open(), await storage.open(), options),
      });
    }
  }
  return setups;
}

async function openEngine(
  database: MetadataDatabase,
  storage: { store: BlobStore; cleanup?: () => Promise<void> },
  options: Partial<RegistryOptions> = {},
): Promise<Engine> {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) };
  const checks: PushCheck[] = [];
  const gate: Engine['gate'] = {
    checks,
    answer: () => undefined,
    async check(push) {
      checks.push(push);
      return gate.answer(push);
    },
  };
  const events: RegistryEvent[] = [];
  const index = new RegistryIndex(database.db);
  const gcIndex = new GcIndex(database.db);
  const { store } = storage;
  const replica = (more: Partial<RegistryOptions> = {}) =>
    new Registry({ index, gcIndex, store, gate, clock, events: { emit: (event) => events.push(event) }, ...options, ...more });
  return {
    index,
    gcIndex,
    store,
    registry: replica(),
    clock,
    gate,
    events,
    replica,
    async close() {
      await database.close();
      await storage.cleanup?.();
    },
  };
}

export function sha256(bytes: Buffer | string): Digest {
  return makeDigest('sha256', createHash('sha256').update(bytes).digest('hex'));
}

/** A body as a request would stream it, in chunks of `chunkSize`. */
export function body(bytes: Buffer, chunkSize = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  return Readable.from(chunks);
}

let counter = 0;
/** A repository name no other test of the file uses (tests of one setup share its database). */
export function repositoryName(prefix = 'test'): RepositoryName {
  return `${prefix}/repo-${process.pid}-${++counter}` as RepositoryName;
}
