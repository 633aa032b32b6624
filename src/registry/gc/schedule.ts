import type { Clock } from '../ports.js';
import { CollectorBusy, type GarbageCollector, type GcReport } from './collector.js';

export interface GcScheduleOptions {
  /** a run is due this long after the latest one started (on any replica) */
  intervalMs: number;
  graceMs: number;
  untagged: boolean;
  onReport?: (report: GcReport) => void;
  onError?: (error: unknown) => void;
}

/**
 * Runs the collector every `intervalMs`, counted from the latest run that any replica (or `pier
 * gc`) started: each replica looks now and then, and the lease lets one of them run. A process
 * that just started waits a whole interval before its first run when none was recorded.
 */
export class GcSchedule {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<GcReport | undefined> | undefined;
  readonly #abort = new AbortController();
  readonly #since: number;

  constructor(
    private readonly collector: GarbageCollector,
    private readonly clock: Clock,
    private readonly options: GcScheduleOptions,
  ) {
    this.#since = clock.now();
  }

  /** Looks every `tickMs` (a minute by default, or the interval when shorter). */
  start(tickMs = Math.min(60_000, this.options.intervalMs)): void {
    this.#timer = setInterval(() => void this.tick(), tickMs);
    this.#timer.unref();
  }

  /** Stops looking; a run in progress stops between two steps (the next run finishes it). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
  }

  /** Runs the collector when a run is due and no other holds the lease; resolves to its report. */
  tick(): Promise<GcReport | undefined> {
    this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #tick(): Promise<GcReport | undefined> {
    try {
      const last = (await this.collector.lastRunStartedAt()) ?? this.#since;
      if (this.clock.now() < last + this.options.intervalMs) return undefined;
      const report = await this.collector.collect({ graceMs: this.options.graceMs, untagged: this.options.untagged, trigger: 'schedule', signal: this.#abort.signal });
      this.options.onReport?.(report);
      return report;
    } catch (error) {
      if (!(error instanceof CollectorBusy) && !this.#abort.signal.aborted) this.options.onError?.(error);
      return undefined;
    }
  }
}
