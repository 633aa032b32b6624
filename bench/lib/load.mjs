// Request-rate load: wrk (GET), or a lean raw-socket Node client (GET and HEAD); keep-alive
// connections with one request in flight each, for a fixed time.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export function hasWrk() {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

async function loadWrk({ server, path: target, headers, connections, seconds }) {
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(`${server.url}${target}`);
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`wrk failed (${code}): ${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : undefined;
  };
  if (!Number.isFinite(requests) || !Number.isFinite(rate)) throw new Error(`cannot read wrk output: ${out}`);
  if (non2xx > 0 || errors > 0) throw new Error(`${server.label}: wrk saw ${non2xx} non-2xx responses and ${errors} socket errors:\n${out}`);
  return { requests, seconds: requests / rate, p50ms: pct(50), p99ms: pct(99), client: 'wrk' };
}

/**
 * Keep-alive connections, each with one request in flight (no pipelining), written from one
 * prebuilt buffer; responses are framed by Content-Length only. Far cheaper than node:http.
 */
async function loadNode({ server, method, path: target, headers, connections, seconds }) {
  const head = method === 'HEAD';
  const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${server.port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const wire = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  const deadline = performance.now() + seconds * 1000;
  const latencies = [];
  let requests = 0;
  let failure;
  const started = performance.now();
  const connection = () =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: server.port, noDelay: true });
      let pending = null;
      let sentAt = 0;
      const send = () => {
        if (failure || performance.now() >= deadline) {
          socket.end();
          return;
        }
        sentAt = performance.now();
        socket.write(wire);
      };
      socket.once('connect', send);
      socket.on('data', (data) => {
        pending = pending ? Buffer.concat([pending, data]) : data;
        for (;;) {
          const end = pending.indexOf('\r\n\r\n');
          if (end === -1) return;
          const header = pending.toString('latin1', 0, end);
          const status = Number(header.slice(9, 12));
          const length = /\r\ncontent-length:\s*(\d+)/i.exec(header);
          if (!length && !head) {
            failure ??= new Error(`${server.label}: response without Content-Length:\n${header}`);
            socket.destroy();
            return;
          }
          const total = end + 4 + (head ? 0 : Number(length[1]));
          if (pending.length < total) return;
          pending = pending.length === total ? null : pending.subarray(total);
          if (status < 200 || status > 299) {
            failure ??= new Error(`${server.label}: ${method} ${target} answered ${status}:\n${header}`);
          }
          requests++;
          latencies.push(performance.now() - sentAt);
          send();
          if (!pending) return;
        }
      });
      socket.once('error', (error) => {
        failure ??= error;
      });
      socket.once('close', resolve);
    });
  await Promise.all(Array.from({ length: connections }, connection));
  const elapsed = (performance.now() - started) / 1000;
  if (failure) throw failure;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))];
  return { requests, seconds: elapsed, p50ms: pct(50), p99ms: pct(99), client: 'node' };
}

/**
 * The load of one rate measurement, after its warm-up: `spec` is { server, method, path, headers,
 * repo }. In token mode every request carries one bearer token, valid for the whole load.
 */
export async function rateLoad(opts, spec) {
  const useWrk = spec.method === 'GET' && (opts.client === 'wrk' || (opts.client === 'auto' && opts.wrk));
  const load = useWrk ? loadWrk : loadNode;
  const headers = { ...spec.headers };
  if (spec.server.auth) {
    const seconds = opts.warmup + opts.duration + 10;
    headers.Authorization = await spec.server.auth.authorization(spec.repo, seconds);
    // one token for the whole load: wrk cannot fetch another
    if (spec.server.auth.expiresAt(spec.repo) < Date.now() + seconds * 1000) {
      throw new Error(`${spec.server.label}: its tokens live shorter than a rate measurement (${seconds} s with --warmup and a margin): a longer --token-ttl, or shorter --duration`);
    }
  }
  const full = { ...spec, headers };
  if (opts.warmup > 0) await load({ ...full, connections: opts.connections, seconds: opts.warmup });
  return { useWrk, run: () => load({ ...full, connections: opts.connections, seconds: opts.duration }) };
}
