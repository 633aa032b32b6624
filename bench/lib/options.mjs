// Options: --flag, else BENCH_* environment variable, else default.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SCALE_OUT_OPTIONS } from '../scale-out.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export class UsageError extends Error {}

/** Phases run in every round, in this order; `large` and `concurrency` run after the rounds. */
export const PHASE_NAMES = ['monolithic', 'chunked', 'download', 'manifestGet', 'blobHead', 'bareNode', 'manifestPut', 'tagsFull', 'tagsPaged', 'tagsPage', 'smallLayers', 'docker', 'bareDocker', 'afterIdle', 'large', 'concurrency'];
const PREREQUISITES = { bareNode: ['manifestGet', 'blobHead'], bareDocker: ['docker'], download: ['monolithic'], tagsFull: ['manifestPut'], tagsPaged: ['manifestPut'], tagsPage: ['manifestPut'] };

export const OPTIONS = {
  rounds: { env: 'BENCH_ROUNDS', def: '5', help: 'rounds per server (medians are over rounds)' },
  'size-mb': { env: 'BENCH_SIZE_MB', def: '256', help: 'MiB per blob for the upload and download rates' },
  'chunk-mb': { env: 'BENCH_CHUNK_MB', def: '8', help: 'MiB per PATCH in the chunked upload' },
  'large-mb': { env: 'BENCH_LARGE_MB', def: '2048', help: 'MiB of the large push for the RSS check (0: skip)' },
  'idle-seconds': { env: 'BENCH_IDLE_SECONDS', def: '45', help: 'afterIdle: how long every server idles before its uploads' },
  parallel: { env: 'BENCH_PARALLEL', def: '1', help: 'clients at once for monolithic, chunked, download and smallLayers: a list, e.g. 1,4 (each its own rows)' },
  tags: { env: 'BENCH_TAGS', def: '2000', help: 'tags pushed per round for the tag-list timings' },
  'page-size': { env: 'BENCH_PAGE_SIZE', def: '100', help: 'n of the paginated tag-list walk' },
  duration: { env: 'BENCH_DURATION', def: '5', help: 'seconds per request-rate measurement' },
  warmup: { env: 'BENCH_WARMUP', def: '1', help: 'seconds of unmeasured load before each rate measurement' },
  connections: { env: 'BENCH_CONNECTIONS', def: '32', help: 'connections for the request-rate measurements' },
  'put-concurrency': { env: 'BENCH_PUT_CONCURRENCY', def: '8', help: 'requests in flight while pushing the tags' },
  client: { env: 'BENCH_CLIENT', def: 'auto', help: 'auto | wrk | node: load generator for the manifest GET rate' },
  layers: { env: 'BENCH_LAYERS', def: '100', help: 'layers of the smallLayers image' },
  'layer-kb': { env: 'BENCH_LAYER_KB', def: '10-1024', help: 'smallLayers: KiB per layer, MIN-MAX (sizes drawn from --seed)' },
  seed: { env: 'BENCH_SEED', def: '14', help: 'seed of the smallLayers sizes' },
  'docker-host': { env: 'BENCH_DOCKER_HOST', def: '', help: 'docker daemon of the docker phase (default $PIER_TEST_DOCKER_HOST, else $DOCKER_HOST, else the default socket)' },
  'docker-mb': { env: 'BENCH_DOCKER_MB', def: '120', help: 'MiB of the docker phase\'s image (random, incompressible)' },
  'docker-layers': { env: 'BENCH_DOCKER_LAYERS', def: '5', help: 'layers of the docker phase\'s image' },
  clients: { env: 'BENCH_CLIENTS', def: '1,2,4,8', help: 'concurrency: clients of each point of the curve' },
  seconds: { env: 'BENCH_SECONDS', def: '20', help: 'concurrency: seconds per point and server' },
  'mix-rounds': { env: 'BENCH_MIX_ROUNDS', def: '1', help: 'concurrency: measurements per point and server (after the rounds; medians over them)' },
  'pier-auth': { env: 'BENCH_PIER_AUTH', def: 'token,open', help: 'Pier\'s modes, each its own server: token (a user, bearer tokens) and/or open (anonymous, like the reference); the first is the headline' },
  'token-ttl': { env: 'BENCH_TOKEN_TTL', def: '', help: 'PIER_TOKEN_TTL of the token-mode Pier (default Pier\'s, 5m); a short one exercises the client\'s refresh (the rate phases need one token to outlive --warmup + --duration + 10 s)' },
  'pier-fsync': { env: 'BENCH_PIER_FSYNC', def: '', help: 'true | false: sets PIER_STORAGE_FSYNC (default: Pier\'s default, true)' },
  sync: { env: 'BENCH_SYNC', def: 'true', help: 'run sync(1) before each timed phase, so that one server\'s dirty pages do not slow the other' },
  'rss-limit-mb': { env: 'BENCH_RSS_LIMIT_MB', def: '200', help: 'Pier\'s RSS limit during the large push (MB)' },
  'timeout-min': { env: 'BENCH_TIMEOUT_MIN', def: '90', help: 'the whole run is aborted after this many minutes' },
  out: { env: 'BENCH_OUT', def: 'bench/.results/latest.json', help: 'where the JSON results go (relative to the repository)' },
  label: { env: 'BENCH_LABEL', def: '', help: 'a label stored with the results (and in the name of the dated copy)' },
  phases: { env: 'BENCH_PHASES', def: 'all', help: `comma-separated subset: ${PHASE_NAMES.join(',')}` },
  'pier-node-options': { env: 'BENCH_PIER_NODE_OPTIONS', def: '', help: 'extra node flags for Pier, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"' },
  'pier-root': { env: 'BENCH_PIER_ROOT', def: '', help: 'run the Pier whose dist/cli/main.js is under this directory (default: this repository, built when dist/ is missing)' },
  'reference-cache': { env: 'BENCH_REFERENCE_CACHE', def: 'inmemory', help: 'inmemory | none: the reference\'s storage.cache.blobdescriptor (Debian\'s shipped config has inmemory)' },
  reference: { env: 'BENCH_REFERENCE_BIN', def: '/usr/bin/docker-registry', help: 'the reference registry binary' },
  keep: { env: 'BENCH_KEEP', def: 'false', help: 'keep the temporary data directories and server logs' },
  check: { env: 'BENCH_CHECK', def: 'false', help: 'exit with status 3 when Pier misses a target' },
  build: { env: 'BENCH_BUILD', def: 'false', help: 'run `npm run build` even when dist/ exists' },
  backends: { env: 'BENCH_BACKENDS', def: 'local', help: 'local (SQLite + disk; the reference on disk) | scale-out (PostgreSQL + S3 + Redis; the reference on the same S3 and Redis)' },
  ...SCALE_OUT_OPTIONS,
};

function usage() {
  process.stdout.write('usage: node bench/run.mjs [--option value]...   (or npm run bench -- --option value)\n\n');
  for (const [name, o] of Object.entries(OPTIONS)) {
    process.stdout.write(`  --${name.padEnd(17)} ${o.env.padEnd(24)} default ${JSON.stringify(o.def).padEnd(28)} ${o.help}\n`);
  }
  process.exit(0);
}

export function readOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' }])), help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    }));
  } catch (error) {
    // e.g. a value that starts with a dash: --pier-node-options=--cpu-prof
    throw new UsageError(`${error.message.split('\n').join(' ')} (--help lists the options)`);
  }
  if (values.help) usage();
  const raw = {};
  for (const [name, o] of Object.entries(OPTIONS)) raw[name] = values[name] ?? process.env[o.env] ?? o.def;
  const num = (name, min) => {
    const n = Number(raw[name]);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, not "${raw[name]}"`);
    return n;
  };
  const int = (name, min) => Math.floor(num(name, min));
  const list = (name) => {
    const items = raw[name].split(',').map((s) => Number(s.trim()));
    if (items.length === 0 || items.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--${name} must be a list of whole numbers >= 1, not "${raw[name]}"`);
    return [...new Set(items)];
  };
  const bool = (name) => /^(1|true|yes|on)$/i.test(raw[name]);
  const oneOf = (name, allowed) => {
    if (!allowed.includes(raw[name])) throw new UsageError(`--${name} must be ${allowed.join(' or ')}`);
    return raw[name];
  };
  if (raw['pier-fsync'] !== '' && !/^(true|false|1|0)$/.test(raw['pier-fsync'])) throw new UsageError('--pier-fsync must be true or false');
  const layerKb = /^(\d+)-(\d+)$/.exec(raw['layer-kb']);
  if (!layerKb || Number(layerKb[1]) < 1 || Number(layerKb[2]) < Number(layerKb[1])) throw new UsageError(`--layer-kb must be MIN-MAX in KiB (1 <= MIN <= MAX), not "${raw['layer-kb']}"`);
  const pierAuth = [...new Set(raw['pier-auth'].split(',').map((s) => s.trim()).filter(Boolean))];
  if (pierAuth.length === 0 || pierAuth.some((m) => m !== 'token' && m !== 'open')) throw new UsageError('--pier-auth must be token, open, or both (token,open)');
  return {
    rounds: int('rounds', 1),
    sizeMiB: num('size-mb', 1),
    chunkMiB: num('chunk-mb', 1),
    largeMiB: num('large-mb', 0),
    idleSeconds: num('idle-seconds', 0),
    parallel: list('parallel'),
    tags: int('tags', 1),
    pageSize: int('page-size', 1),
    duration: num('duration', 0.5),
    warmup: num('warmup', 0),
    connections: int('connections', 1),
    putConcurrency: int('put-concurrency', 1),
    client: oneOf('client', ['auto', 'wrk', 'node']),
    layers: int('layers', 1),
    layerKiB: { min: Number(layerKb[1]), max: Number(layerKb[2]) },
    seed: int('seed', 0),
    dockerHost: raw['docker-host'] || process.env.PIER_TEST_DOCKER_HOST || process.env.DOCKER_HOST || '',
    dockerMiB: num('docker-mb', 1),
    dockerLayers: int('docker-layers', 1),
    clients: list('clients'),
    seconds: num('seconds', 1),
    mixRounds: int('mix-rounds', 1),
    pierAuth,
    tokenTtl: raw['token-ttl'],
    pierFsync: raw['pier-fsync'],
    sync: bool('sync'),
    rssLimitMB: num('rss-limit-mb', 1),
    timeoutMin: num('timeout-min', 0.05),
    out: path.resolve(ROOT, raw.out),
    label: raw.label,
    phases: parsePhases(raw.phases),
    pierRoot: raw['pier-root'] ? path.resolve(raw['pier-root']) : ROOT,
    pierNodeOptions: raw['pier-node-options'].split(/\s+/).filter(Boolean),
    referenceCache: oneOf('reference-cache', ['inmemory', 'none']),
    reference: raw.reference,
    keep: bool('keep'),
    check: bool('check'),
    build: bool('build'),
    backends: oneOf('backends', ['local', 'scale-out']),
    databaseUrl: raw['database-url'],
    s3Endpoint: raw['s3-endpoint'],
    s3Bucket: raw['s3-bucket'],
    redisUrl: raw['redis-url'],
  };
}

function parsePhases(value) {
  if (value === 'all' || value === '') return new Set(PHASE_NAMES);
  const phases = new Set(value.split(',').map((p) => p.trim()).filter(Boolean));
  for (const p of phases) {
    if (!PHASE_NAMES.includes(p)) throw new UsageError(`unknown phase "${p}" (known: ${PHASE_NAMES.join(', ')})`);
    for (const needed of PREREQUISITES[p] ?? []) phases.add(needed);
  }
  return phases;
}
