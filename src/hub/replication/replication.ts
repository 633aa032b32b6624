import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SecretBox } from '../../auth/sealed-secret.js';
import type { Database } from '../../metadata/schema.js';
import type { Clock } from '../../registry/ports.js';
import { RegistryClient } from '../../registry/remote/registry-client.js';
import type { Registry } from '../../registry/registry.js';
import { HubError } from '../errors.js';
import type { OutboxMessage } from '../outbox.js';
import { RoundWorker } from '../round-worker.js';
import { Copier, emptyReport } from './copier.js';
import { LocalEndpoint, RemoteEndpoint } from './endpoints.js';
import { isLiteral, matchesAny } from './patterns.js';
import { ReplicationRules, type ReplicationRule } from './rules.js';
import { ReplicationRuns, type ReplicationRun, type RunReport, type RunTrigger } from './runs.js';

export interface ReplicationLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ReplicationOptions {
  db: Kysely<Database>;
  clock: Clock;
  registry: Registry;
  secrets?: () => Promise<SecretBox>;
  /** a failed run waits this long before its next attempt, doubling each time (default 30 s) */
  retryDelayMs?: number;
  /** attempts in all before a run is failed for good (default 5) */
  attempts?: number;
  /** how long a claim on a run holds without renewal (default 60 s) */
  claimMs?: number;
  log?: ReplicationLog;
}

const quiet: ReplicationLog = { info: () => {}, warn: () => {} };

/**
 * Replication to and from other registries. Push rules follow pushes: every 'manifest.pushed'
 * event of the outbox (written in the push's transaction, delivered at least once) whose
 * repository a rule names queues a run for it; pull rules, and push rules given a schedule, run
 * every `interval` (a replica takes each due rule once); any rule runs on demand. Runs are rows
 * (runs.ts), worked on by whichever replica claims them, recorded with what they copied, and
 * retried after a failure.
 */
export class ReplicationService {
  readonly rules: ReplicationRules;
  readonly runs: ReplicationRuns;
  readonly #options: ReplicationOptions;
  readonly #log: ReplicationLog;
  readonly #worker: RoundWorker;

  constructor(options: ReplicationOptions) {
    this.#options = options;
    this.#log = options.log ?? quiet;
    this.#worker = new RoundWorker(() => this.tick(), (error) => this.#log.warn({ err: error }, 'replication worker failed; it tries again'), { idleUntilStarted: false });
    this.rules = new ReplicationRules(options.db, options.clock, options.secrets);
    this.runs = new ReplicationRuns(options.db, options.clock);
  }

  /** The outbox subscriber: a push into a repository a push rule names queues a run. */
  async onEvent(message: OutboxMessage): Promise<void> {
    if (message.type !== 'manifest.pushed') return;
    const repository = message.payload.repository;
    const digest = message.payload.digest;
    if (typeof repository !== 'string' || typeof digest !== 'string') return;
    const tags = Array.isArray(message.payload.tags) ? message.payload.tags.filter((t): t is string => typeof t === 'string') : [];
    let queued = false;
    for (const rule of await this.rules.pushRules()) {
      if (!matchesAny(rule.repositories, repository)) continue;
      const wanted = tags.filter((tag) => rule.tags === null || matchesAny(rule.tags, tag, ''));
      // an untagged push is copied by digest only when it refers to something (a signature, an
      // SBOM): a platform manifest pushed before its index goes with the index
      const referrer = wanted.length === 0 && tags.length === 0 && (await this.#hasSubject(repository, digest));
      if (wanted.length === 0 && !referrer) continue;
      await this.runs.enqueue(rule.name, 'push', { repository, tags: wanted, digests: referrer ? [digest] : [] });
      queued = true;
    }
    if (queued) this.notify();
  }

  /** Queues a run of a rule now (the API); the worker takes it at once. */
  async request(name: string): Promise<ReplicationRun> {
    const rule = await this.rules.get(name);
    if (!rule) throw new HubError('not_found', `no replication rule "${name}"`);
    const run = await this.runs.enqueue(rule.name, 'manual', null);
    this.notify();
    return run;
  }

  /** Runs a rule here and now, to the end (the CLI): recorded like any run, retried by the servers when it fails. */
  async runNow(name: string): Promise<ReplicationRun> {
    const rule = await this.rules.get(name);
    if (!rule) throw new HubError('not_found', `no replication rule "${name}"`);
    const run = await this.runs.enqueue(rule.name, 'manual', null);
    if (await this.#process(run.id)) return (await this.runs.get(run.id))!;
    // a server's worker took it first: wait for its outcome
    for (;;) {
      const current = (await this.runs.get(run.id))!;
      if (current.finishedAt !== null || (current.status === 'queued' && current.attempts > 0)) return current;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Works on due runs and schedules every `intervalMs` (and at once when notified). */
  start(intervalMs: number): void {
    this.#worker.start(intervalMs);
  }

  notify(): void {
    this.#worker.notify();
  }

  async stop(): Promise<void> {
    await this.#worker.stop();
  }

  /** One round: queue the scheduled rules that are due, then work on every due run. */
  async tick(): Promise<void> {
    for (const rule of await this.rules.takeDue(this.#options.clock.now())) await this.runs.enqueue(rule.name, 'schedule', null);
    for (;;) {
      const due = await this.runs.due(10);
      if (due.length === 0) return;
      let any = false;
      for (const id of due) any = (await this.#process(id)) || any;
      if (!any) return;
    }
  }

  async #process(id: string): Promise<boolean> {
    const claim = randomUUID();
    const claimMs = this.#options.claimMs ?? 60_000;
    const run = await this.runs.claim(id, claim, this.#options.clock.now() + claimMs);
    if (!run) return false;
    const renewal = setInterval(() => void this.runs.renew(id, claim, this.#options.clock.now() + claimMs).catch(() => {}), Math.max(1_000, claimMs / 3));
    renewal.unref();
    const previous = run.report ? [...(run.report.previousErrors ?? []), ...run.report.errors.map((e) => `attempt ${run.attempts - 1}: ${e}`)] : [];
    let report: RunReport = emptyReport();
    let error: string | undefined;
    try {
      const rule = await this.rules.get(run.rule);
      if (!rule) throw new Error(`the rule ${run.rule} was removed`);
      report = await this.#copy(rule, run);
      if (report.errors.length > 0) error = `${report.errors.length} failed: ${report.errors[0]}`;
    } catch (failure) {
      error = (failure as Error).message || String(failure);
      report.errors.push(error);
    } finally {
      clearInterval(renewal);
    }
    if (previous.length > 0) report.previousErrors = previous;
    const attempts = this.#options.attempts ?? 5;
    const retryAt = error !== undefined && run.attempts < attempts ? this.#options.clock.now() + (this.#options.retryDelayMs ?? 30_000) * 2 ** (run.attempts - 1) : undefined;
    await this.runs.finish(id, claim, { report, ...(error !== undefined ? { error } : {}), ...(retryAt !== undefined ? { retryAt } : {}) });
    const fields = { rule: run.rule, run: id, attempt: run.attempts, manifests: report.manifestsCopied, blobs: report.blobsCopied, bytes: report.bytesCopied };
    if (error === undefined) this.#log.info(fields, 'replication run succeeded');
    else this.#log.warn({ ...fields, error, retryAt: retryAt && new Date(retryAt).toISOString() }, retryAt ? 'replication run failed; it is retried' : 'replication run failed');
    return true;
  }

  async #copy(rule: ReplicationRule, run: ReplicationRun): Promise<RunReport> {
    const credentials = await this.rules.credentialsOf(rule.name);
    const client = new RegistryClient({ url: rule.url, ...(credentials ? { credentials } : {}), clock: this.#options.clock });
    const local = new LocalEndpoint(this.#options.registry);
    const remote = new RemoteEndpoint(client, this.#options.registry.manifests.maxBytes);
    const [source, target] = rule.direction === 'push' ? [local, remote] : [remote, local];
    const report = emptyReport();
    const destination = (name: string) => (rule.destination ? `${rule.destination}/${name}` : name);
    // pushing: the other repositories here that hold a blob and that the rule copies are where the target may have it
    const candidates = async (digest: string) => {
      if (rule.direction !== 'push') return [];
      const rows = await this.#options.db.selectFrom('blob_links').select('repository').where('digest', '=', digest).orderBy('repository').limit(20).execute();
      return rows.map((r) => r.repository).filter((name) => matchesAny(rule.repositories, name)).map(destination);
    };
    const copier = new Copier(source, target, report, candidates);
    if (run.scope) {
      const { repository, tags, digests } = run.scope;
      for (const tag of tags) await copier.copyTag(repository, destination(repository), tag);
      for (const digest of digests) await copier.copyDigest(repository, destination(repository), digest);
      return report;
    }
    // literal names are asked about directly (registries such as Docker Hub list no catalog)
    const literal = rule.repositories.filter(isLiteral);
    const listed = rule.repositories.length > literal.length ? (await source.listRepositories()).filter((name) => matchesAny(rule.repositories, name)) : [];
    for (const repository of [...new Set([...literal, ...listed])].sort()) {
      const tags = (await source.listTags(repository)).filter((tag) => rule.tags === null || matchesAny(rule.tags, tag, ''));
      for (const tag of tags) await copier.copyTag(repository, destination(repository), tag);
    }
    return report;
  }

  async #hasSubject(repository: string, digest: string): Promise<boolean> {
    const row = await this.#options.db.selectFrom('manifests').select('subject').where('repository', '=', repository).where('digest', '=', digest).executeTakeFirst();
    return typeof row?.subject === 'string';
  }
}

export type { ReplicationRule, ReplicationRun, RunTrigger };
