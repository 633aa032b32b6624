import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { ReadinessReport } from '../http/health.js';
import type { MetadataDatabase } from '../metadata/database.js';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';

/** One backend a replica needs: `check` resolves when it answers, rejects with why not. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
  /**
   * A backend the replica works without (Redis: it degrades to in-process counting and no cache):
   * when it fails, /readyz reports it 'degraded' and stays ready, or one outage of it would take
   * every replica out of the load balancer at once.
   */
  optional?: boolean;
}

export interface ReadinessOptions {
  /** a backend that has not answered after this long counts as failed; 2 s by default */
  timeoutMs?: number;
  /** failures are logged when a check starts failing and when it recovers, not on every probe */
  logger?: Logger;
}

/**
 * Runs every check at once, each with a timeout. Probes arriving while one runs share its result,
 * so a hanging backend and a load balancer probing every second do not pile up queries.
 */
export function createReadiness(checks: readonly ReadinessCheck[], options: ReadinessOptions = {}): () => Promise<ReadinessReport> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const failing = new Set<string>();
  let running: Promise<ReadinessReport> | undefined;

  const probe = async (): Promise<ReadinessReport> => {
    const outcomes = await Promise.all(
      checks.map((c) => withTimeout(c, timeoutMs).then(() => ({ ok: true as const }), (error: unknown) => ({ ok: false as const, error }))),
    );
    const report: ReadinessReport = { ready: true, checks: {}, failures: {} };
    checks.forEach((c, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        report.checks[c.name] = 'ok';
        if (failing.delete(c.name)) options.logger?.info({ check: c.name }, 'readiness: backend answers again');
        return;
      }
      if (c.optional) {
        report.checks[c.name] = 'degraded';
      } else {
        report.ready = false;
        report.checks[c.name] = 'failed';
      }
      report.failures[c.name] = shortReason(outcome.error);
      if (!failing.has(c.name)) {
        failing.add(c.name);
        options.logger?.warn({ check: c.name, err: outcome.error }, 'readiness: backend does not answer');
      }
    });
    return report;
  };

  return () => {
    running ??= probe().finally(() => (running = undefined));
    return running;
  };
}

export class CheckTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'CheckTimeout';
  }
}

function withTimeout(c: ReadinessCheck, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CheckTimeout(ms)), ms);
    // a check that throws synchronously fails like one that rejects
    Promise.resolve()
      .then(() => c.check())
      .then(resolve, reject)
      .finally(() => clearTimeout(timer));
  });
}

/**
 * The reason /readyz gives, which anyone reaching the port can read: the error's first line,
 * with credentials of URLs removed, shortened. The full error goes to the log.
 */
export function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  const code = (error as { code?: unknown }).code;
  const first = (message.split('\n')[0] ?? '').replace(/(\w+:\/\/)[^/@\s]*@/g, '$1').replace(/([?&][^=&\s]*(?:pass|secret|token)[^=&\s]*=)[^&\s]*/gi, '$1***');
  const text = typeof code === 'string' && !first.includes(code) ? `${code}: ${first}` : first;
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** The metadata database answers a trivial query (SQLite or PostgreSQL). */
export function databaseCheck(database: MetadataDatabase): ReadinessCheck {
  return {
    name: 'database',
    async check() {
      await sql`select 1`.execute(database.db);
    },
  };
}

/** A digest no blob has: asking the store for its size reaches the backend without changing anything. */
const PROBE_DIGEST = `sha256:${'0'.repeat(64)}` as Digest;

/** The blob store answers: its own check() when it has one, else a lookup of a blob that is not there. */
export function storageCheck(store: BlobStore): ReadinessCheck {
  return {
    name: 'storage',
    async check() {
      if (store.check) await store.check();
      else await store.stat(PROBE_DIGEST);
    },
  };
}
