import type { Clock } from '../ports.js';
import { Schedule, type ScheduleOptions } from '../schedule.js';
import { CollectorBusy, type GarbageCollector, type GcReport } from './collector.js';

export interface GcScheduleOptions extends ScheduleOptions<GcReport> {
  graceMs: number;
  untagged: boolean;
}

/** The collector every `gc.schedule` (registry/schedule.ts counts it from the latest run of any replica). */
export class GcSchedule extends Schedule<GcReport> {
  constructor(collector: GarbageCollector, clock: Clock, options: GcScheduleOptions) {
    super(
      {
        lastRunStartedAt: () => collector.lastRunStartedAt(),
        run: (signal) => collector.collect({ graceMs: options.graceMs, untagged: options.untagged, trigger: 'schedule', signal }),
        busy: (error) => error instanceof CollectorBusy,
      },
      clock,
      options,
    );
  }
}
