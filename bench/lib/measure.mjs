// Timing a phase: wall time, the server's CPU (utime + stime from /proc) and the client's, around it.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { MB } from './content.mjs';
import { cpuTimes, memory } from './proc.mjs';

export function syncDisks(opts) {
  if (opts.sync) spawnSync('sync');
}

/** Runs `work` with the server's CPU time around it; `work` resolves to { requests?, bytes?, ... }. */
export async function timed(server, opts, work) {
  syncDisks(opts);
  server.assertAlive();
  const cpu0 = cpuTimes(server.pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await work();
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuTimes(server.pid);
  const client = process.cpuUsage(client0);
  const user = cpu1.user - cpu0.user;
  const system = cpu1.system - cpu0.system;
  return {
    seconds: wall,
    ...result,
    serverCpu: user + system,
    serverSystemShare: user + system > 0 ? system / (user + system) : undefined,
    clientCpu: (client.user + client.system) / 1e6,
    serverRssAfterMB: memory(server.pid).rss / MB,
  };
}

/** Runs `work` one after another, at least `times` times and for at least `seconds`. */
export async function repeatFor(times, seconds, work) {
  const until = performance.now() + seconds * 1000;
  let ops = 0;
  while (ops < times || performance.now() < until) {
    await work();
    ops++;
  }
  return { ops };
}

/** A transfer: MB/s, and server CPU in ms per MB. */
export function transferSample(r) {
  return {
    value: r.bytes / MB / r.seconds,
    cpu: (r.serverCpu * 1000) / (r.bytes / MB),
    serverCores: r.serverCpu / r.seconds,
    serverSystemShare: r.serverSystemShare,
    clientCpu: r.clientCpu,
    seconds: r.seconds,
    serverRssAfterMB: r.serverRssAfterMB,
  };
}

/** A request rate: requests/s, and server CPU in µs per request. */
export function rateSample(r) {
  return {
    value: r.requests / r.seconds,
    cpu: (r.serverCpu * 1e6) / r.requests,
    serverCores: r.serverCpu / r.seconds,
    serverSystemShare: r.serverSystemShare,
    serverRssAfterMB: r.serverRssAfterMB,
    requests: r.requests,
    p50ms: r.p50ms,
    p99ms: r.p99ms,
    client: r.client,
  };
}

/** Latency percentile (ms) of sorted latencies. */
export function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : undefined;
}
