import type { Clock } from './ports.js';

/** A job that runs now and then on some replica: garbage collection, retention. */
export interface ScheduledJob<R> {
  /** when the latest run started, on any replica (its record in the database), if one did */
  lastRunStartedAt(): Promise<number | undefined>;
  /** one run (it takes the job's lease: one at a time across replicas); stops between steps when `signal` aborts */
  run(signal: AbortSignal): Promise<R>;
  /** whether `error` says that another run holds the lease (a replica that lost the race, not a failure) */
  busy(error: unknown): boolean;
}

export interface ScheduleOptions<R> {
  /** a run is due this long after the latest one started (on any replica, or a command's) */
  intervalMs: number;
  onReport?: (report: R) => void;
  onError?: (error: unknown) => void;
}

/**
 * Runs a job every `intervalMs`, counted from the latest run that any replica (or a command)
 * started: each replica looks now and then, and the job's lease lets one of them run. A process
 * that just started waits a whole interval before its first run when none was recorded.
 */
export class Schedule<R> {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<R | undefined> | undefined;
  readonly #abort = new AbortController();
  readonly #since: number;

  constructor(
    private readonly job: ScheduledJob<R>,
    private readonly clock: Clock,
    private readonly options: ScheduleOptions<R>,
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

  /** Runs the job when a run is due and no other holds the lease; resolves to its report. */
  tick(): Promise<R | undefined> {
    this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #tick(): Promise<R | undefined> {
    try {
      const last = (await this.job.lastRunStartedAt()) ?? this.#since;
      if (this.clock.now() < last + this.options.intervalMs) return undefined;
      const report = await this.job.run(this.#abort.signal);
      this.options.onReport?.(report);
      return report;
    } catch (error) {
      if (!this.job.busy(error) && !this.#abort.signal.aborted) this.options.onError?.(error);
      return undefined;
    }
  }
}
