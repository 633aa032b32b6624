// Medians over rounds, ratios to the reference, the table printed at the end.
import { MiB } from './content.mjs';

/** What each metric is; a key `name@N` is metric `name` with N clients at once. */
export const METRICS = {
  monolithic: { label: 'Monolithic upload (POST + 1 PUT)', unit: 'MB/s', better: 'higher', target: 1.2, cpuUnit: 'ms/MB' },
  chunked: { label: 'Chunked upload (PATCH chunks + PUT)', unit: 'MB/s', better: 'higher', target: 1.2, cpuUnit: 'ms/MB' },
  download: { label: 'Blob download (GET)', unit: 'MB/s', better: 'higher', target: 0.8, cpuUnit: 'ms/MB' },
  manifestGet: { label: 'Manifest GET by tag', unit: 'req/s', better: 'higher', target: 2, cpuUnit: 'µs/req' },
  blobHead: { label: 'Blob HEAD', unit: 'req/s', better: 'higher', target: 2, cpuUnit: 'µs/req' },
  manifestPut: { label: 'Manifest PUT (new tag each)', unit: 'req/s', better: 'higher', cpuUnit: 'µs/req' },
  tagsFull: { label: 'Tags list, one request', unit: 'ms', better: 'lower', cpuUnit: 'ms/req' },
  tagsPaged: { label: 'Tags list, paginated walk', unit: 'ms', better: 'lower', cpuUnit: 'ms/walk' },
  tagsPage: { label: 'Tags list, one page from the middle', unit: 'req/s', better: 'higher', cpuUnit: 'µs/req' },
  smallLayersPush: { label: 'Small layers push (blobs + manifest)', unit: 's', better: 'lower', cpuUnit: 's CPU' },
  smallLayersPull: { label: 'Small layers pull (manifest + blobs)', unit: 's', better: 'lower', cpuUnit: 's CPU' },
  dockerPush: { label: 'docker push', unit: 's', better: 'lower', cpuUnit: 's CPU' },
  dockerPull: { label: 'docker pull', unit: 's', better: 'lower', cpuUnit: 's CPU' },
  idleMonolithic: { label: 'Monolithic upload after an idle spell', unit: 'MB/s', better: 'higher', cpuUnit: 'ms/MB' },
  idleChunked: { label: 'Chunked upload after an idle spell', unit: 'MB/s', better: 'higher', cpuUnit: 'ms/MB' },
  largePush: { label: 'Large push (monolithic)', unit: 'MB/s', better: 'higher', cpuUnit: 'ms/MB' },
  largePull: { label: 'Large pull (GET)', unit: 'MB/s', better: 'higher', cpuUnit: 'ms/MB' },
  concurrency: { label: 'Mixed workload', unit: 'req/s', better: 'higher', cpuUnit: 'µs/req', extra: [{ field: 'p50ms', label: 'p50 latency', unit: 'ms' }, { field: 'p99ms', label: 'p99 latency', unit: 'ms' }] },
  rssStart: { label: 'RSS after start (idle)', unit: 'MB', better: 'lower' },
  rssRounds: { label: 'Peak RSS over all rounds (VmHWM)', unit: 'MB', better: 'lower' },
  rssLargePush: { label: 'Peak RSS during large push', unit: 'MB', better: 'lower' },
  rssLargePull: { label: 'Peak RSS during large pull', unit: 'MB', better: 'lower' },
};

export function metricOf(key) {
  const [base, clients] = key.split('@');
  return { base, clients: clients === undefined ? 1 : Number(clients), def: METRICS[base] };
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function fmt(x) {
  if (x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  return a >= 1000 ? Math.round(x).toLocaleString('en-US') : a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

const stats = (list) => list && { median: median(list.map((s) => s.value)), cpuMedian: median(list.map((s) => s.cpu)), samples: list };

/**
 * Per metric: every server's medians, and the headline Pier (the first of --pier-auth) against the
 * reference: `pier`, `reference`, `ratio`, the ratio within each round, the target.
 */
export function summarize(samples, keys, headline, opts) {
  const metrics = {};
  const order = Object.keys(METRICS);
  const rank = (key) => order.indexOf(metricOf(key).base) * 10_000 + metricOf(key).clients;
  for (const key of [...keys].sort((a, b) => rank(a) - rank(b))) {
    const { base, clients, def } = metricOf(key);
    const p = samples[headline]?.[key];
    const r = samples.reference?.[key];
    if (!p?.length || !r?.length) continue;
    const servers = Object.fromEntries(Object.keys(samples).filter((name) => samples[name][key]?.length).map((name) => [name, stats(samples[name][key])]));
    const m = {
      label: def.label,
      unit: def.unit,
      better: def.better,
      headline,
      pier: servers[headline],
      reference: servers.reference,
      servers,
      ratio: servers[headline].median / servers.reference.median,
      // Pier/reference within each round (runs of a round are next to each other in time)
      roundRatios: p.map((s, i) => s.value / r[i]?.value).filter(Number.isFinite),
      cpuUnit: def.cpuUnit,
    };
    if (def.target !== undefined && clients === 1) {
      m.target = `>= ${def.target}`;
      m.pass = m.ratio >= def.target;
    }
    if (base === 'rssLargePush') {
      m.target = `Pier < ${opts.rssLimitMB} MB`;
      m.pass = m.pier.median < opts.rssLimitMB;
    }
    metrics[key] = m;
  }
  return metrics;
}

const COLUMN = { pierToken: 'Pier token', pierOpen: 'Pier open', reference: 'reference', bareNode: 'bare node' };

function labelOf(key, m, opts) {
  const { base, clients } = metricOf(key);
  let label = m.label;
  const first = m.pier.samples[0];
  if (base === 'tagsFull') label += ` (${first.count} tags)`;
  if (base === 'tagsPaged') label += ` (n=${opts.pageSize}; pages: Pier ${first.pages}, ref ${m.reference.samples[0].pages})`;
  if (base === 'manifestGet' || base === 'blobHead') label += ` (c=${opts.connections}, ${first.client})`;
  if (base === 'tagsPage') label += ` (n=${opts.pageSize}, c=${opts.connections}, ${first.client}; the reference ignores n: all tags)`;
  if (base === 'manifestPut') label += ` (c=${opts.putConcurrency})`;
  if (base === 'chunked') label = `Chunked upload (${opts.chunkMiB} MiB PATCHes + PUT)`;
  if (base.startsWith('large') || base.startsWith('rssLarge')) label += ` (${opts.largeMiB} MiB)`;
  if (base.startsWith('smallLayers')) label += ` (${opts.layers} layers, ${fmt(first.bytes / MiB)} MiB)`;
  if (base.startsWith('docker')) label += ` (${opts.dockerLayers} layers, ${opts.dockerMiB} MiB)`;
  if (base === 'concurrency') label += `, ${clients} client${clients === 1 ? '' : 's'} (${opts.seconds} s)`;
  else if (clients > 1) label += ` (${clients} at once)`;
  return label;
}

/**
 * The table: a column per server (the Pier modes, then the reference, then the bare node:http
 * server when measured), the headline's ratio to the reference.
 */
export function table(metrics, opts, serverNames, headline) {
  const single = serverNames.filter((n) => n !== 'reference').length === 1;
  const bare = Object.values(metrics).some((m) => m.servers.bareNode) ? ['bareNode'] : [];
  const names = [headline, ...serverNames.filter((n) => n !== headline && n !== 'reference'), 'reference', ...bare];
  const head = ['metric', 'unit', ...names.map((n) => (single && n !== 'reference' ? 'Pier' : COLUMN[n])), single ? 'Pier/ref' : `${COLUMN[headline].replace('Pier ', '')}/ref`, 'per round', 'target', ''];
  const rows = [head];
  const range = (values) => (values.length > 1 ? `${fmt(Math.min(...values))}..${fmt(Math.max(...values))}` : '');
  const cell = (m, name, field) => fmt(m.servers[name]?.[field]);
  for (const [key, m] of Object.entries(metrics)) {
    const { def } = metricOf(key);
    const note = m.better === 'lower' ? '(lower is better)' : '';
    rows.push([labelOf(key, m, opts), m.unit, ...names.map((n) => cell(m, n, 'median')), fmt(m.ratio), range(m.roundRatios), m.target ?? '', m.pass === undefined ? note : m.pass ? 'ok' : 'MISSED']);
    if (m.cpuUnit) {
      const cpuRatios = m.pier.samples.map((s, i) => s.cpu / m.reference.samples[i]?.cpu).filter(Number.isFinite);
      rows.push(['  server CPU per op', m.cpuUnit, ...names.map((n) => cell(m, n, 'cpuMedian')), fmt(m.pier.cpuMedian / m.reference.cpuMedian), range(cpuRatios), '', '(lower is better)']);
    }
    for (const extra of def.extra ?? []) {
      const med = (n) => fmt(median((m.servers[n]?.samples ?? []).map((s) => s[extra.field])));
      const ratio = median(m.pier.samples.map((s) => s[extra.field])) / median(m.reference.samples.map((s) => s[extra.field]));
      rows.push([`  ${extra.label}`, extra.unit, ...names.map(med), fmt(ratio), '', '', '(lower is better)']);
    }
  }
  const numeric = (i) => i >= 2 && i < head.length - 2;
  const widths = head.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (numeric(i) ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
