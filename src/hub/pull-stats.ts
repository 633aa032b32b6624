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
  /** pulls that named a digest: they become pulls of the tags naming it when written */
  digests: Map<string, Tally>;
  /** pulls per UTC day (days since 1970-01-01) */
  days: Map<number, number>;
}

const DAY_MS = 86_400_000;
/** How many days of history are kept per repository (a page shows 30; a chart may show 90). */
export const PULL_HISTORY_DAYS = 90;

/** Days since 1970-01-01, UTC. */
export function dayOf(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS);
}

export interface DailyPulls {
  /** YYYY-MM-DD, UTC */
  date: string;
  pulls: number;
}

export interface PullCount {
  pulls: number;
  /** epoch ms, or null when never pulled */
  lastPulledAt: number | null;
}

/**
 * Pull counts per repository and per tag, and per repository per day, from 'manifest.pulled'
 * events (a pull as the pull gate counts it: a multi-arch pull once). A pull by digest is a pull
 * of every tag naming that digest when the counts are written: `docker pull name:tag` asks the
 * tag with a HEAD (free) and GETs the manifest by digest, and that pull is the tag's. A pull only adds to a
 * tally in memory; flush() writes the tallies as increments (so replicas add up), every second
 * while the server runs and when it closes, in one transaction: `repository_pulls`, `tag_pulls`,
 * `repository_pull_days`, and `hub_repositories.pull_count` (the sort key of "most pulled").
 * A crash loses at most the last second of counts: statistics, not records. Days older than
 * PULL_HISTORY_DAYS are deleted once a day.
 */
export class PullStats implements RegistryEvents {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  #pending = new Map<string, RepositoryTally>();
  /** the day this process last deleted old history */
  #prunedDay = -1;
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
    if (!repository) this.#pending.set(event.repository, (repository = { pulls: 0, last: now, tags: new Map(), digests: new Map(), days: new Map() }));
    add(repository, 1, now);
    const day = dayOf(now);
    repository.days.set(day, (repository.days.get(day) ?? 0) + 1);
    tally(isDigestLike(event.reference) ? repository.digests : repository.tags, isDigestLike(event.reference) ? event.digest : event.reference, 1, now);
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

  /**
   * Pulls per day of a repository over the last `days` days, today (UTC) included, oldest first;
   * every day is there, zeros included.
   */
  async history(repository: string, days: number): Promise<DailyPulls[]> {
    const today = dayOf(this.#clock.now());
    const first = today - days + 1;
    const rows = await this.#db
      .selectFrom('repository_pull_days')
      .select(['day', 'pulls'])
      .where('repository', '=', repository)
      .where('day', '>=', first)
      .where('day', '<=', today)
      .execute();
    const byDay = new Map(rows.map((r) => [Number(r.day), Number(r.pulls)]));
    const history: DailyPulls[] = [];
    for (let day = first; day <= today; day++) {
      history.push({ date: new Date(day * DAY_MS).toISOString().slice(0, 10), pulls: byDay.get(day) ?? 0 });
    }
    return history;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    // in key order, so that replicas flushing at once lock rows in the same order (no deadlock)
    const names = [...batch.keys()].sort();
    const repositories = names.map((repository) => ({ repository, pulls: batch.get(repository)!.pulls, last_pulled_at: batch.get(repository)!.last }));
    const days = names.flatMap((repository) =>
      [...batch.get(repository)!.days.entries()].sort(([a], [b]) => a - b).map(([day, pulls]) => ({ repository, day, pulls })),
    );
    const today = dayOf(this.#clock.now());
    const prune = today !== this.#prunedDay;
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
        for (const rows of chunks(days, 500)) {
          await trx
            .insertInto('repository_pull_days')
            .values(rows)
            .onConflict((oc) => oc.columns(['repository', 'day']).doUpdateSet({ pulls: sql`repository_pull_days.pulls + excluded.pulls` }))
            .execute();
        }
        // one row at a time, in name order like the rest: replicas lock rows in the same order
        for (const { repository, pulls } of repositories) {
          await trx.updateTable('hub_repositories').set({ pull_count: sql`pull_count + ${pulls}` }).where('name', '=', repository).execute();
        }
        if (prune) await trx.deleteFrom('repository_pull_days').where('day', '<', today - PULL_HISTORY_DAYS).execute();
        const tags: Array<{ repository: string; tag: string; pulls: number; last_pulled_at: number }> = [];
        for (const repository of names) {
          const { tags: byName, digests } = batch.get(repository)!;
          // a fresh map: the batch stays as counted, for #restore when the transaction fails
          const merged = new Map([...byName].map(([tag, n]) => [tag, { ...n }]));
          for (const digestsChunk of chunks([...digests.keys()], 500)) {
            const named = await trx.selectFrom('tags').select(['name', 'digest']).where('repository', '=', repository).where('digest', 'in', digestsChunk).execute();
            for (const { name, digest } of named) tally(merged, name, digests.get(digest)!.pulls, digests.get(digest)!.last);
          }
          for (const [tag, n] of [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) tags.push({ repository, tag, pulls: n.pulls, last_pulled_at: n.last });
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
    if (prune) this.#prunedDay = today;
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
      for (const [day, pulls] of failed.days) current.days.set(day, (current.days.get(day) ?? 0) + pulls);
      for (const [tag, t] of failed.tags) tally(current.tags, tag, t.pulls, t.last);
      for (const [digest, t] of failed.digests) tally(current.digests, digest, t.pulls, t.last);
    }
  }
}

function add(tally: Tally, pulls: number, at: number): void {
  tally.pulls += pulls;
  if (at > tally.last) tally.last = at;
}

/** Adds `pulls` at `at` to the tally of `key`, created when missing. */
function tally(tallies: Map<string, Tally>, key: string, pulls: number, at: number): void {
  const existing = tallies.get(key);
  if (existing) add(existing, pulls, at);
  else tallies.set(key, { pulls, last: at });
}

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
