import type { Clock } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';
import { EVERYTHING, RetentionBusy, type RetentionService, type RunReport } from './retention.js';

export interface RetentionScheduleOptions {
  /** a run is due this long after the latest one over everything started (on any replica, or `pier retention run`) */
  intervalMs: number;
  onReport?: (report: RunReport) => void;
  onError?: (error: unknown) => void;
}

/**
 * Applies every retention policy every `intervalMs` (the retention.schedule setting), counted as
 * the garbage collector's schedule is (registry/gc/schedule.ts): each replica looks now and then,
 * the lease lets one of them run, and a process that just started waits a whole interval when no
 * run was recorded. Namespaces whose plan lost the feature are skipped.
 */
export class RetentionSchedule {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RunReport | undefined> | undefined;
  readonly #abort = new AbortController();
  readonly #since: number;

  constructor(
    private readonly retention: RetentionService,
    private readonly registry: Registry,
    private readonly clock: Clock,
    private readonly options: RetentionScheduleOptions,
  ) {
    this.#since = clock.now();
  }

  /** Looks every `tickMs` (a minute by default, or the interval when shorter). */
  start(tickMs = Math.min(60_000, this.options.intervalMs)): void {
    this.#timer = setInterval(() => void this.tick(), tickMs);
    this.#timer.unref();
  }

  /** Stops looking; a run in progress stops between two repositories (the next run continues). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
  }

  /** Runs when a run is due and no other holds the lease; resolves to its report. */
  tick(): Promise<RunReport | undefined> {
    this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #tick(): Promise<RunReport | undefined> {
    try {
      const last = (await this.retention.lastRunStartedAt()) ?? this.#since;
      if (this.clock.now() < last + this.options.intervalMs) return undefined;
      const report = await this.retention.run(EVERYTHING, this.registry, { trigger: 'schedule', skipWithoutFeature: true, signal: this.#abort.signal });
      this.options.onReport?.(report);
      return report;
    } catch (error) {
      if (!(error instanceof RetentionBusy) && !this.#abort.signal.aborted) this.options.onError?.(error);
      return undefined;
    }
  }
}
