import { sql, type Kysely } from 'kysely';
import type { Database } from '../metadata/schema.js';
import { isDigestLike } from '../oci/digest.js';
import type { Clock, RegistryEvent, RegistryEvents } from '../registry/ports.js';

interface Tally {
  pulls: number;
  last: number;
}

interface RepositoryTally extends Tally {
  tags: Map<string, Tally>;
}

export interface PullCount {
  pulls: number;
  /** epoch ms, or null when never pulled */
  lastPulledAt: number | null;
}

/**
 * Pull counts per repository and per tag, from 'manifest.pulled' events (a pull as the pull gate
 * counts it: a multi-arch pull once). A pull only adds to a tally in memory; flush() writes the
 * tallies as increments (so replicas add up), every second while the server runs and when it
 * closes. A crash loses at most the last second of counts: statistics, not records.
 */
export class PullStats implements RegistryEvents {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  #pending = new Map<string, RepositoryTally>();
  #flushing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(db: Kysely<Database>, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  emit(event: RegistryEvent): void {
    if (event.type !== 'manifest.pulled') return;
    const now = this.#clock.now();
    let repository = this.#pending.get(event.repository);
    if (!repository) this.#pending.set(event.repository, (repository = { pulls: 0, last: now, tags: new Map() }));
    add(repository, 1, now);
    if (isDigestLike(event.reference)) return;
    const tag = repository.tags.get(event.reference);
    if (tag) add(tag, 1, now);
    else repository.tags.set(event.reference, { pulls: 1, last: now });
  }

  /** Writes what was counted since the last flush; what fails to be written is kept for the next. */
  flush(): Promise<void> {
    const run = this.#flushing.then(() => this.#write());
    this.#flushing = run.catch(() => {});
    return run;
  }

  /** Flushes every `intervalMs`; errors go to `onError` and the counts wait for the next flush. */
  start(intervalMs: number, onError: (error: unknown) => void): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#pending.size > 0) this.flush().catch(onError);
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  async get(repository: string): Promise<PullCount> {
    const row = await this.#db.selectFrom('repository_pulls').select(['pulls', 'last_pulled_at']).where('repository', '=', repository).executeTakeFirst();
    return { pulls: Number(row?.pulls ?? 0), lastPulledAt: row?.last_pulled_at == null ? null : Number(row.last_pulled_at) };
  }

  async tags(repository: string): Promise<Map<string, PullCount>> {
    const rows = await this.#db.selectFrom('tag_pulls').select(['tag', 'pulls', 'last_pulled_at']).where('repository', '=', repository).execute();
    return new Map(rows.map((r) => [r.tag, { pulls: Number(r.pulls), lastPulledAt: r.last_pulled_at == null ? null : Number(r.last_pulled_at) }]));
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    // in key order, so that replicas flushing at once lock rows in the same order (no deadlock)
    const names = [...batch.keys()].sort();
    const repositories = names.map((repository) => ({ repository, pulls: batch.get(repository)!.pulls, last_pulled_at: batch.get(repository)!.last }));
    const tags = names.flatMap((repository) =>
      [...batch.get(repository)!.tags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([tag, n]) => ({ repository, tag, pulls: n.pulls, last_pulled_at: n.last })),
    );
    try {
      await this.#db.transaction().execute(async (trx) => {
        for (const rows of chunks(repositories, 500)) {
          await trx
            .insertInto('repository_pulls')
            .values(rows)
            .onConflict((oc) =>
              oc.column('repository').doUpdateSet({
                pulls: sql`repository_pulls.pulls + excluded.pulls`,
                last_pulled_at: sql`case when repository_pulls.last_pulled_at is null or excluded.last_pulled_at > repository_pulls.last_pulled_at then excluded.last_pulled_at else repository_pulls.last_pulled_at end`,
              }),
            )
            .execute();
        }
        for (const rows of chunks(tags, 500)) {
          await trx
            .insertInto('tag_pulls')
            .values(rows)
            .onConflict((oc) =>
              oc.columns(['repository', 'tag']).doUpdateSet({
                pulls: sql`tag_pulls.pulls + excluded.pulls`,
                last_pulled_at: sql`case when tag_pulls.last_pulled_at is null or excluded.last_pulled_at > tag_pulls.last_pulled_at then excluded.last_pulled_at else tag_pulls.last_pulled_at end`,
              }),
            )
            .execute();
        }
      });
    } catch (error) {
      this.#restore(batch);
      throw error;
    }
  }

  /** Puts back counts that could not be written, added to those counted meanwhile. */
  #restore(batch: Map<string, RepositoryTally>): void {
    for (const [name, failed] of batch) {
      const current = this.#pending.get(name);
      if (!current) {
        this.#pending.set(name, failed);
        continue;
      }
      add(current, failed.pulls, failed.last);
      for (const [tag, t] of failed.tags) {
        const now = current.tags.get(tag);
        if (now) add(now, t.pulls, t.last);
        else current.tags.set(tag, t);
      }
    }
  }
}

function add(tally: Tally, pulls: number, at: number): void {
  tally.pulls += pulls;
  if (at > tally.last) tally.last = at;
}

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
