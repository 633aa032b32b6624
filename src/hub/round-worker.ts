/**
 * Runs `round` every `intervalMs` once started, and at once when notified; notifications that come
 * while a round runs are merged into one more round after it. A failed round is logged and the
 * next tick tries again. The replication runs and the webhook deliveries work this way.
 */
export class RoundWorker {
  #timer: NodeJS.Timeout | undefined;
  #working: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
    /** whether a notification before `start` (or after `stop`) runs a round anyway */
    private readonly options: { idleUntilStarted: boolean },
  ) {}

  start(intervalMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.notify(), intervalMs);
    this.#timer.unref();
    this.notify();
  }

  notify(): void {
    if (this.options.idleUntilStarted && !this.#timer) return;
    if (this.#working) {
      this.#again = true;
      return;
    }
    this.#working = (async () => {
      try {
        do {
          this.#again = false;
          await this.round();
        } while (this.#again && this.#timer);
      } catch (error) {
        this.onError(error);
      } finally {
        this.#working = undefined;
      }
    })();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#working;
  }
}
