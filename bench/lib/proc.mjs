// CPU time and memory of a process, from /proc (Linux).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime and stime of the whole process (all threads), in seconds. */
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK }; // fields 14 and 15 of proc(5)
}

/** utime + stime of several processes, in seconds (a server may be more than one process). */
export function cpuSeconds(pids) {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const t = cpuTimes(pid);
    user += t.user;
    system += t.system;
  }
  return { user, system };
}

/** VmRSS and VmHWM in bytes. */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (clear_refs 5); false when the kernel refuses. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const m = memory(pid);
    return m.hwm <= m.rss + 64 * 1024;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `ms` until stopped; the maximum seen. */
export function rssSampler(pid, ms = 20) {
  let max = memory(pid).rss;
  const timer = setInterval(() => {
    try {
      max = Math.max(max, memory(pid).rss);
    } catch {}
  }, ms);
  return () => {
    clearInterval(timer);
    try {
      max = Math.max(max, memory(pid).rss);
    } catch {}
    return max;
  };
}
