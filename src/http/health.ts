import type { FastifyInstance } from 'fastify';

/** What readiness finds: every backend by name, and why each failing one fails (for the log). */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'failed' | 'degraded'>;
  /** a short reason per failing check: logged, never sent (anyone reaching the port can read /readyz) */
  failures: Record<string, string>;
}

export interface HealthOptions {
  /** probes the backends; without it /readyz answers like /healthz */
  readiness?: () => Promise<ReadinessReport>;
}

/**
 * /healthz is liveness: the process answers HTTP, whatever its backends do (restarting it would
 * not bring a database back). /readyz is readiness: 503 while a backend this replica needs does
 * not answer, so that a load balancer sends the requests to another replica meanwhile.
 */
export function registerHealth(app: FastifyInstance, options: HealthOptions): void {
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    if (!options.readiness) return reply.send({ status: 'ready', checks: {} });
    const report = await options.readiness();
    // names and states only: hosts, buckets and paths in the reasons stay in the log
    if (report.ready) return reply.send({ status: 'ready', checks: report.checks });
    return reply.code(503).send({ status: 'unavailable', checks: report.checks });
  });
}
