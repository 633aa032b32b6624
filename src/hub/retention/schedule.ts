import type { Clock } from '../../registry/ports.js';
import type { Registry } from '../../registry/registry.js';
import { Schedule, type ScheduleOptions } from '../../registry/schedule.js';
import { EVERYTHING, RetentionBusy, type RetentionService, type RunReport } from './retention.js';

/**
 * Applies every retention policy every `retention.schedule`, counted from the latest run over
 * everything on any replica (`pier retention run` without a name counts too), as the garbage
 * collector's schedule is (registry/schedule.ts). Namespaces whose plan lost the feature are skipped.
 */
export class RetentionSchedule extends Schedule<RunReport> {
  constructor(retention: RetentionService, registry: Registry, clock: Clock, options: ScheduleOptions<RunReport>) {
    super(
      {
        lastRunStartedAt: () => retention.lastRunStartedAt(),
        run: (signal) => retention.run(EVERYTHING, registry, { trigger: 'schedule', skipWithoutFeature: true, signal }),
        busy: (error) => error instanceof RetentionBusy,
      },
      clock,
      options,
    );
  }
}
