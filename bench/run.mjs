#!/usr/bin/env node
// Pier against the reference registry (distribution 2.8, Debian's `docker-registry`), side by side.
// Plain Node ESM, no dependencies; `wrk` is used for the manifest GET rate when it is installed.
// Usage and the meaning of every number: bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prepareScaleOut, SCALE_OUT_OPTIONS } from './scale-out.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const MB = 1e6;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

// ---- options: --flag, else BENCH_* environment variable, else default --------------------------

const OPTIONS = {
  rounds: { env: 'BENCH_ROUNDS', def: '5', help: 'rounds per server (medians are over rounds)' },
  'size-mb': { env: 'BENCH_SIZE_MB', def: '256', help: 'MiB per blob for the upload and download rates' },
  'chunk-mb': { env: 'BENCH_CHUNK_MB', def: '8', help: 'MiB per PATCH in the chunked upload' },
  'large-mb': { env: 'BENCH_LARGE_MB', def: '2048', help: 'MiB of the large push for the RSS check (0: skip)' },
  tags: { env: 'BENCH_TAGS', def: '2000', help: 'tags pushed per round for the tag-list timings' },
  'page-size': { env: 'BENCH_PAGE_SIZE', def: '100', help: 'n of the paginated tag-list walk' },
  duration: { env: 'BENCH_DURATION', def: '5', help: 'seconds per request-rate measurement' },
  warmup: { env: 'BENCH_WARMUP', def: '1', help: 'seconds of unmeasured load before each rate measurement' },
  connections: { env: 'BENCH_CONNECTIONS', def: '32', help: 'connections for the request-rate measurements' },
  'put-concurrency': { env: 'BENCH_PUT_CONCURRENCY', def: '8', help: 'requests in flight while pushing the tags' },
  client: { env: 'BENCH_CLIENT', def: 'auto', help: 'auto | wrk | node: load generator for the manifest GET rate' },
  'pier-fsync': { env: 'BENCH_PIER_FSYNC', def: '', help: 'true | false: sets PIER_STORAGE_FSYNC (default: Pier\'s default, true)' },
  sync: { env: 'BENCH_SYNC', def: 'true', help: 'run sync(1) before each timed phase, so that one server\'s dirty pages do not slow the other' },
  'rss-limit-mb': { env: 'BENCH_RSS_LIMIT_MB', def: '200', help: 'Pier\'s RSS limit during the large push (MB)' },
  'timeout-min': { env: 'BENCH_TIMEOUT_MIN', def: '60', help: 'the whole run is aborted after this many minutes' },
  out: { env: 'BENCH_OUT', def: 'bench/.results/latest.json', help: 'where the JSON results go (relative to the repository)' },
  label: { env: 'BENCH_LABEL', def: '', help: 'a label stored with the results (and in the name of the dated copy)' },
  phases: { env: 'BENCH_PHASES', def: 'all', help: 'comma-separated subset: monolithic,chunked,download,manifestGet,blobHead,manifestPut,tagsFull,tagsPaged,large' },
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

function readOptions() {
  const { values } = parseArgs({
    options: { ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' }])), help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write('usage: node bench/run.mjs [--option value]...   (or npm run bench -- --option value)\n\n');
    for (const [name, o] of Object.entries(OPTIONS)) {
      process.stdout.write(`  --${name.padEnd(16)} ${o.env.padEnd(22)} default ${JSON.stringify(o.def).padEnd(28)} ${o.help}\n`);
    }
    process.exit(0);
  }
  const raw = {};
  for (const [name, o] of Object.entries(OPTIONS)) raw[name] = values[name] ?? process.env[o.env] ?? o.def;
  const int = (name, min) => {
    const n = Number(raw[name]);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}, not "${raw[name]}"`);
    return n;
  };
  const bool = (name) => /^(1|true|yes|on)$/i.test(raw[name]);
  if (!['auto', 'wrk', 'node'].includes(raw.client)) throw new UsageError('--client must be auto, wrk or node');
  if (!['inmemory', 'none'].includes(raw['reference-cache'])) throw new UsageError('--reference-cache must be inmemory or none');
  if (!['local', 'scale-out'].includes(raw.backends)) throw new UsageError('--backends must be local or scale-out');
  if (raw['pier-fsync'] !== '' && !/^(true|false|1|0)$/.test(raw['pier-fsync'])) throw new UsageError('--pier-fsync must be true or false');
  return {
    rounds: Math.floor(int('rounds', 1)),
    sizeMiB: int('size-mb', 1),
    chunkMiB: int('chunk-mb', 1),
    largeMiB: int('large-mb', 0),
    tags: Math.floor(int('tags', 1)),
    pageSize: Math.floor(int('page-size', 1)),
    duration: int('duration', 0.5),
    warmup: int('warmup', 0),
    connections: Math.floor(int('connections', 1)),
    putConcurrency: Math.floor(int('put-concurrency', 1)),
    client: raw.client,
    pierFsync: raw['pier-fsync'],
    sync: bool('sync'),
    rssLimitMB: int('rss-limit-mb', 1),
    timeoutMin: int('timeout-min', 0.05),
    out: path.resolve(ROOT, raw.out),
    label: raw.label,
    phases: parsePhases(raw.phases),
    pierRoot: raw['pier-root'] ? path.resolve(raw['pier-root']) : ROOT,
    pierNodeOptions: raw['pier-node-options'].split(/\s+/).filter(Boolean),
    referenceCache: raw['reference-cache'],
    reference: raw.reference,
    keep: bool('keep'),
    check: bool('check'),
    build: bool('build'),
    backends: raw.backends,
    databaseUrl: raw['database-url'],
    s3Endpoint: raw['s3-endpoint'],
    s3Bucket: raw['s3-bucket'],
    redisUrl: raw['redis-url'],
  };
}

const PHASE_NAMES = ['monolithic', 'chunked', 'download', 'manifestGet', 'blobHead', 'manifestPut', 'tagsFull', 'tagsPaged', 'large'];
const PREREQUISITES = { download: 'monolithic', tagsFull: 'manifestPut', tagsPaged: 'manifestPut' };

function parsePhases(value) {
  if (value === 'all' || value === '') return new Set(PHASE_NAMES);
  const phases = new Set(value.split(',').map((p) => p.trim()).filter(Boolean));
  for (const p of phases) {
    if (!PHASE_NAMES.includes(p)) throw new UsageError(`unknown phase "${p}" (known: ${PHASE_NAMES.join(', ')})`);
    if (PREREQUISITES[p]) phases.add(PREREQUISITES[p]);
  }
  return phases;
}

// ---- /proc: server CPU and memory ---------------------------------------------------------------

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime and stime of the whole process (all threads), in seconds. */
function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK }; // fields 14 and 15 of proc(5)
}

/** VmRSS and VmHWM in bytes. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (clear_refs 5); false when the kernel refuses. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const m = memory(pid);
    return m.hwm <= m.rss + 64 * 1024;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `ms` until stopped; the maximum seen. */
function rssSampler(pid, ms = 20) {
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

// ---- servers ------------------------------------------------------------------------------------

const cleanup = { servers: new Set(), dirs: new Set(), keep: false };

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

class Server {
  constructor(name, label) {
    this.name = name; // 'pier' | 'reference'
    this.label = label;
    this.state = {};
  }

  async start(command, args, env) {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const log = openSync(this.logFile, 'a');
    // PIER_* variables of the caller's shell do not leak into the run: only `env` configures Pier
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIER_')));
    this.proc = spawn(command, args, { env: { ...inherited, ...env }, stdio: ['ignore', log, log] });
    closeSync(log);
    this.pid = this.proc.pid;
    this.exited = false;
    this.proc.once('exit', (code, signal) => {
      this.exited = true;
      this.exit = { code, signal };
    });
    cleanup.servers.add(this);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.exited) throw new Error(`${this.label} exited during start (${JSON.stringify(this.exit)}):\n${this.logTail()}`);
      try {
        const res = await request(this, 'GET', '/v2/');
        if (res.status === 200) break;
      } catch {}
      if (Date.now() > deadline) throw new Error(`${this.label} did not answer GET /v2/ within 30 s:\n${this.logTail()}`);
      await sleep(100);
    }
  }

  assertAlive() {
    if (this.exited) throw new Error(`${this.label} exited (${JSON.stringify(this.exit)}):\n${this.logTail()}`);
  }

  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop() {
    cleanup.servers.delete(this);
    if (!this.proc || this.exited) return;
    this.proc.kill('SIGTERM');
    const exited = once(this.proc, 'exit');
    const timeout = sleep(10_000).then(() => 'timeout');
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      this.proc.kill('SIGKILL');
      await exited;
    }
  }
}

async function startPier(opts, dir) {
  const server = new Server('pier', 'Pier');
  server.dataDir = path.join(dir, 'pier-data');
  server.logFile = path.join(dir, 'pier.log');
  // The reference registry runs without authentication: so does Pier, to compare the same work.
  const env = { PIER_DATA: server.dataDir, PIER_LOG_LEVEL: 'warn', PIER_AUTH: 'open' };
  if (opts.pierFsync !== '') env.PIER_STORAGE_FSYNC = opts.pierFsync;
  if (opts.scaleOut) Object.assign(env, opts.scaleOut.pierEnv);
  server.port = await freePort();
  env.PIER_LISTEN = `127.0.0.1:${server.port}`;
  await server.start(process.execPath, [...opts.pierNodeOptions, path.join(opts.pierRoot, 'dist/cli/main.js'), 'serve'], env);
  return server;
}

async function startReference(opts, dir) {
  const server = new Server('reference', 'reference');
  server.dataDir = path.join(dir, 'reference-data');
  server.logFile = path.join(dir, 'reference.log');
  server.port = await freePort();
  const config = path.join(dir, 'reference.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      ...(opts.scaleOut ? opts.scaleOut.referenceCache : opts.referenceCache === 'inmemory' ? ['  cache:', '    blobdescriptor: inmemory'] : []),
      ...(opts.scaleOut ? opts.scaleOut.referenceStorage : ['  filesystem:', `    rootdirectory: ${server.dataDir}`]),
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      ...(opts.scaleOut ? opts.scaleOut.referenceRedis : []),
      'http:',
      `  addr: 127.0.0.1:${server.port}`,
      '',
    ].join('\n'),
  );
  // the Go SDK of the reference refuses AWS_CA_BUNDLE with its own transport (set on some machines)
  await server.start(opts.reference, ['serve', config], opts.scaleOut ? { AWS_CA_BUNDLE: '' } : {});
  return server;
}

function stopEverythingNow() {
  for (const server of cleanup.servers) {
    try {
      server.proc.kill('SIGKILL');
    } catch {}
  }
  cleanup.servers.clear();
  if (!cleanup.keep) for (const dir of cleanup.dirs) rmSync(dir, { recursive: true, force: true });
}

// ---- HTTP client ---------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * One request. `body` is a Buffer, or a function that writes the request and ends it.
 * The response body is collected (`collect`: true) or only counted.
 */
function request(server, method, target, { headers = {}, body, collect = true, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const url = typeof target === 'string' ? new URL(target, server.url) : target;
    const req = http.request(
      { agent, method, host: '127.0.0.1', port: server.port, path: url.pathname + url.search, headers, timeout: timeoutMs },
      (res) => {
        let bytes = 0;
        const chunks = [];
        res.on('data', (chunk) => {
          bytes += chunk.length;
          if (collect) chunks.push(chunk);
        });
        res.once('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), bytes }));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    if (typeof body === 'function') body(req).catch((error) => req.destroy(error));
    else req.end(body);
  });
}

function expect(res, statuses, what) {
  if (!statuses.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} (expected ${statuses.join('/')}): ${res.body?.toString('utf8', 0, 300)}`);
  }
  return res;
}

// ---- blob content: a 1 MiB random block repeated, then a unique 32-byte trailer ---------------------
// The sha256 of the repeated part is computed once per length and copied, so every upload has a
// distinct digest (no server can take a dedup shortcut) while the client hashes almost nothing.

const BLOCK = randomBytes(MiB);
const prefixHashes = new Map();

function prefixHash(length) {
  let hash = prefixHashes.get(length);
  if (!hash) {
    hash = createHash('sha256');
    let left = length;
    while (left > 0) {
      const n = Math.min(left, BLOCK.length);
      hash.update(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n));
      left -= n;
    }
    prefixHashes.set(length, hash);
  }
  return hash;
}

class Content {
  constructor(size) {
    if (size < 64) throw new Error('blob too small');
    this.size = size;
    this.prefix = size - 32;
    this.trailer = randomBytes(32);
    this.digest = `sha256:${prefixHash(this.prefix).copy().update(this.trailer).digest('hex')}`;
  }

  /** Buffers that cover [start, end): views of the block (no copies), then the trailer. */
  *slices(start, end) {
    let at = start;
    while (at < end && at < this.prefix) {
      const offset = at % BLOCK.length;
      const n = Math.min(BLOCK.length - offset, end - at, this.prefix - at);
      yield BLOCK.subarray(offset, offset + n);
      at += n;
    }
    if (at < end) yield this.trailer.subarray(at - this.prefix, end - this.prefix);
  }

  writer(start, end) {
    return async (req) => {
      for (const slice of this.slices(start, end)) {
        if (!req.write(slice)) await once(req, 'drain');
      }
      req.end();
    };
  }
}

// ---- registry operations -----------------------------------------------------------------------------

async function openUpload(server, repo) {
  const res = expect(await request(server, 'POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'content-length': '0' } }), [202], 'POST upload');
  return new URL(res.headers.location, server.url);
}

function withDigest(location, digest) {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

/** POST, then one PUT ?digest= with the whole body. */
async function pushMonolithic(server, repo, content) {
  const location = await openUpload(server, repo);
  const res = await request(server, 'PUT', withDigest(location, content.digest), {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(content.size) },
    body: content.writer(0, content.size),
  });
  expect(res, [201], 'PUT monolithic upload');
  if (res.headers['docker-content-digest'] && res.headers['docker-content-digest'] !== content.digest) {
    throw new Error(`${server.label} stored ${res.headers['docker-content-digest']}, expected ${content.digest}`);
  }
}

/** POST, PATCH chunks with Content-Range, then PUT ?digest= without a body. */
async function pushChunked(server, repo, content, chunkSize) {
  let location = await openUpload(server, repo);
  for (let start = 0; start < content.size; start += chunkSize) {
    const end = Math.min(content.size, start + chunkSize);
    const res = await request(server, 'PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'content-range': `${start}-${end - 1}` },
      body: content.writer(start, end),
    });
    expect(res, [202], `PATCH ${start}-${end - 1}`);
    location = new URL(res.headers.location, server.url);
  }
  const res = await request(server, 'PUT', withDigest(location, content.digest), { headers: { 'content-length': '0' } });
  expect(res, [201], 'PUT chunked upload');
}

/**
 * GET a blob on a fresh connection, read into one reused buffer (net's `onread`): node:http's
 * client allocates per chunk and costs more CPU than a server that sends with sendfile(2).
 */
function pullBlob(server, repo, digest, size) {
  const target = `/v2/${repo}/blobs/${digest}`;
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let status = 0;
    let length = -1;
    let received = 0;
    let errorBody = '';
    const finish = (error) => {
      socket.destroy();
      clearTimeout(timer);
      if (error) reject(error);
      else if (status !== 200) reject(new Error(`${server.label}: GET blob answered ${status}: ${errorBody}`));
      else if (received !== size) reject(new Error(`${server.label}: GET blob returned ${received} bytes, expected ${size}`));
      else resolve(received);
    };
    const socket = net.connect({
      host: '127.0.0.1',
      port: server.port,
      onread: {
        buffer: Buffer.allocUnsafe(4 * MiB),
        callback(n, buffer) {
          if (length >= 0) {
            received += n;
          } else {
            head = Buffer.concat([head, buffer.subarray(0, n)]);
            const end = head.indexOf('\r\n\r\n');
            if (end === -1) return;
            const header = head.toString('latin1', 0, end);
            status = Number(header.slice(9, 12));
            const declared = /\r\ncontent-length:\s*(\d+)/i.exec(header);
            if (!declared) return finish(new Error(`${server.label}: GET blob without Content-Length:\n${header}`));
            length = Number(declared[1]);
            received = head.length - end - 4;
            if (status !== 200) errorBody = head.toString('utf8', end + 4, end + 304);
          }
          if (received >= length) finish();
        },
      },
    });
    const timer = setTimeout(() => finish(new Error(`${server.label}: GET ${target} timed out`)), 600_000);
    socket.once('connect', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`));
    socket.once('error', finish);
    socket.once('end', () => (length < 0 || received < length) && finish(new Error(`${server.label}: GET ${target}: connection closed early`)));
  });
}

async function pushSmallBlob(server, repo, buffer) {
  const digest = `sha256:${createHash('sha256').update(buffer).digest('hex')}`;
  const location = await openUpload(server, repo);
  const res = await request(server, 'PUT', withDigest(location, digest), {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(buffer.length) },
    body: buffer,
  });
  expect(res, [201], 'PUT small blob');
  return { digest, size: buffer.length };
}

/** A config and a layer in `repo`; returns a function that renders a manifest (distinct per tag). */
async function pushImageBlobs(server, repo) {
  const config = await pushSmallBlob(server, repo, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, bench: randomBytes(8).toString('hex') })));
  const layer = await pushSmallBlob(server, repo, randomBytes(4096));
  const manifest = (annotation) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
        annotations: { 'org.example.bench': annotation },
      }),
    );
  return { config, layer, manifest };
}

async function putManifest(server, repo, reference, body) {
  const res = await request(server, 'PUT', `/v2/${repo}/manifests/${reference}`, {
    headers: { 'content-type': OCI_MANIFEST, 'content-length': String(body.length) },
    body,
  });
  expect(res, [201], `PUT manifest ${reference}`);
}

async function inParallel(count, concurrency, work) {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Follows Link: <...>; rel="next" from the first page; the tags and the number of pages. */
async function walkTags(server, repo, n) {
  let target = n === undefined ? `/v2/${repo}/tags/list` : `/v2/${repo}/tags/list?n=${n}`;
  const tags = [];
  let pages = 0;
  while (target) {
    const res = expect(await request(server, 'GET', target), [200], 'GET tags/list');
    pages++;
    tags.push(...JSON.parse(res.body.toString('utf8')).tags);
    const link = res.headers.link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.link);
    target = link ? link[1] : undefined;
    if (pages > 100_000) throw new Error('tag pagination does not end');
  }
  return { tags, pages };
}

// ---- request-rate load: wrk (GET) or a lean raw-socket Node client (GET and HEAD) --------------------

function hasWrk() {
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

// ---- phases ------------------------------------------------------------------------------------------

function syncDisks(opts) {
  if (opts.sync) spawnSync('sync');
}

/** Runs `work` with the server's CPU time around it; `work` resolves to { ops?, bytes?, seconds?, ... }. */
async function timed(server, opts, work) {
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

const METRICS = {
  monolithic: { label: 'Monolithic upload (POST + 1 PUT)', unit: 'MB/s', better: 'higher', target: 1.2, cpuUnit: 'ms/MB' },
  chunked: { label: 'Chunked upload (PATCH chunks + PUT)', unit: 'MB/s', better: 'higher', target: 1.2, cpuUnit: 'ms/MB' },
  download: { label: 'Blob download (GET)', unit: 'MB/s', better: 'higher', target: 0.8, cpuUnit: 'ms/MB' },
  manifestGet: { label: 'Manifest GET by tag', unit: 'req/s', better: 'higher', target: 2, cpuUnit: 'µs/req' },
  blobHead: { label: 'Blob HEAD', unit: 'req/s', better: 'higher', target: 2, cpuUnit: 'µs/req' },
  manifestPut: { label: 'Manifest PUT (new tag each)', unit: 'req/s', better: 'higher', cpuUnit: 'µs/req' },
  tagsFull: { label: 'Tags list, one request', unit: 'ms', better: 'lower', cpuUnit: 'ms/req' },
  tagsPaged: { label: 'Tags list, paginated walk', unit: 'ms', better: 'lower', cpuUnit: 'ms/walk' },
  largePush: { label: 'Large push (monolithic)', unit: 'MB/s', better: 'higher', cpuUnit: 'ms/MB' },
  largePull: { label: 'Large pull (GET)', unit: 'MB/s', better: 'higher', cpuUnit: 'ms/MB' },
  rssStart: { label: 'RSS after start (idle)', unit: 'MB', better: 'lower' },
  rssRounds: { label: 'Peak RSS over all rounds (VmHWM)', unit: 'MB', better: 'lower' },
  rssLargePush: { label: 'Peak RSS during large push', unit: 'MB', better: 'lower' },
  rssLargePull: { label: 'Peak RSS during large pull', unit: 'MB', better: 'lower' },
};

function transferSample(r) {
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

function rateSample(r) {
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

async function rateLoad(opts, spec) {
  const useWrk = spec.method === 'GET' && (opts.client === 'wrk' || (opts.client === 'auto' && opts.wrk));
  const load = useWrk ? loadWrk : loadNode;
  if (opts.warmup > 0) await load({ ...spec, connections: opts.connections, seconds: opts.warmup });
  return { useWrk, run: () => load({ ...spec, connections: opts.connections, seconds: opts.duration }) };
}

const PHASES = [
  [
    'monolithic',
    async (server, opts, round) => {
      const content = new Content(opts.sizeMiB * MiB);
      const repo = `bench/upload-${round}`;
      const r = await timed(server, opts, async () => {
        await pushMonolithic(server, repo, content);
        return { bytes: content.size };
      });
      server.state.downloadable = { repo, content };
      return transferSample(r);
    },
  ],
  [
    'chunked',
    async (server, opts, round) => {
      const content = new Content(opts.sizeMiB * MiB);
      const r = await timed(server, opts, async () => {
        await pushChunked(server, `bench/upload-${round}`, content, opts.chunkMiB * MiB);
        return { bytes: content.size };
      });
      return transferSample(r);
    },
  ],
  [
    'download',
    async (server, opts) => {
      const { repo, content } = server.state.downloadable;
      // repeated until a second has passed (at least twice): one GET of a cached blob is short
      const r = await timed(server, opts, async () => {
        const { ops } = await repeatFor(2, 1, () => pullBlob(server, repo, content.digest, content.size));
        return { bytes: ops * content.size, repeats: ops };
      });
      return { ...transferSample(r), repeats: r.repeats };
    },
  ],
  [
    'manifestGet',
    async (server, opts) => {
      const spec = { server, method: 'GET', path: `/v2/${server.state.app.repo}/manifests/latest`, headers: { Accept: OCI_MANIFEST } };
      const { run } = await rateLoad(opts, spec);
      return rateSample(await timed(server, opts, run));
    },
  ],
  [
    'blobHead',
    async (server, opts) => {
      const spec = { server, method: 'HEAD', path: `/v2/${server.state.app.repo}/blobs/${server.state.app.layer.digest}`, headers: {} };
      const { run } = await rateLoad(opts, spec);
      return rateSample(await timed(server, opts, run));
    },
  ],
  [
    'manifestPut',
    async (server, opts, round) => {
      const repo = `bench/tags-${round}`;
      const image = await pushImageBlobs(server, repo);
      const names = Array.from({ length: opts.tags }, (_, i) => `t${String(i).padStart(6, '0')}`);
      const bodies = names.map((tag) => image.manifest(tag));
      const r = await timed(server, opts, async () => {
        await inParallel(names.length, opts.putConcurrency, (i) => putManifest(server, repo, names[i], bodies[i]));
        return { requests: names.length };
      });
      server.state.tags = { repo, names };
      return rateSample(r);
    },
  ],
  [
    'tagsFull',
    async (server, opts) => {
      const { repo, names } = server.state.tags;
      const first = await walkTags(server, repo); // unmeasured: checks the answer
      checkTags(server, first.tags, names);
      const r = await timed(server, opts, () => repeatFor(10, 1, () => walkTags(server, repo)));
      return { value: (r.seconds * 1000) / r.ops, cpu: (r.serverCpu * 1000) / r.ops, serverCores: r.serverCpu / r.seconds, serverRssAfterMB: r.serverRssAfterMB, count: first.tags.length, repeats: r.ops };
    },
  ],
  [
    'tagsPaged',
    async (server, opts) => {
      const { repo, names } = server.state.tags;
      const first = await walkTags(server, repo, opts.pageSize);
      checkTags(server, first.tags, names);
      const r = await timed(server, opts, () => repeatFor(3, 1, () => walkTags(server, repo, opts.pageSize)));
      return { value: (r.seconds * 1000) / r.ops, cpu: (r.serverCpu * 1000) / r.ops, serverCores: r.serverCpu / r.seconds, serverRssAfterMB: r.serverRssAfterMB, pages: first.pages, count: first.tags.length, repeats: r.ops };
    },
  ],
];

/** Runs `work` one after another, at least `times` times and for at least `seconds`. */
async function repeatFor(times, seconds, work) {
  const until = performance.now() + seconds * 1000;
  let ops = 0;
  while (ops < times || performance.now() < until) {
    await work();
    ops++;
  }
  return { ops };
}

function checkTags(server, got, want) {
  const sorted = [...want].sort();
  if (got.length !== want.length || [...got].sort().some((t, i) => t !== sorted[i])) {
    throw new Error(`${server.label}: the tag list has ${got.length} tags, expected ${want.length}`);
  }
}

/** The large push and pull, with RSS reset before and sampled during each. */
async function largePhase(server, opts) {
  const content = new Content(opts.largeMiB * MiB);
  const repo = 'bench/large';
  const out = {};
  for (const kind of ['push', 'pull']) {
    syncDisks(opts);
    const before = memory(server.pid).rss;
    const reset = resetPeak(server.pid);
    const stopSampling = rssSampler(server.pid);
    let r;
    try {
      r = await timed(server, { ...opts, sync: false }, async () => {
        if (kind === 'push') await pushMonolithic(server, repo, content);
        else await pullBlob(server, repo, content.digest, content.size);
        return { bytes: content.size };
      });
    } finally {
      out[`${kind}SampledPeak`] = stopSampling();
    }
    const hwm = memory(server.pid).hwm;
    out[kind] = transferSample(r);
    out[`${kind}Rss`] = {
      value: (reset ? Math.max(hwm, out[`${kind}SampledPeak`]) : out[`${kind}SampledPeak`]) / MB,
      before: before / MB,
      sampledPeak: out[`${kind}SampledPeak`] / MB,
      hwm: reset ? hwm / MB : undefined,
      method: reset ? 'VmHWM after clear_refs 5, and VmRSS sampled every 20 ms' : 'VmRSS sampled every 20 ms',
    };
  }
  return out;
}

// ---- report ------------------------------------------------------------------------------------------

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function fmt(x) {
  if (x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  return a >= 1000 ? Math.round(x).toLocaleString('en-US') : a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function summarize(samples, opts) {
  const metrics = {};
  for (const [key, def] of Object.entries(METRICS)) {
    const p = samples.pier[key];
    const r = samples.reference[key];
    if (!p?.length || !r?.length) continue;
    const pm = median(p.map((s) => s.value));
    const rm = median(r.map((s) => s.value));
    const ratio = pm / rm;
    const m = {
      label: def.label,
      unit: def.unit,
      better: def.better,
      pier: { median: pm, cpuMedian: median(p.map((s) => s.cpu)), samples: p },
      reference: { median: rm, cpuMedian: median(r.map((s) => s.cpu)), samples: r },
      ratio,
      // Pier/reference within each round (runs of a round are next to each other in time)
      roundRatios: p.map((s, i) => s.value / r[i]?.value).filter(Number.isFinite),
      cpuUnit: def.cpuUnit,
    };
    if (def.target !== undefined) {
      m.target = `>= ${def.target}`;
      m.pass = ratio >= def.target;
    }
    if (key === 'rssLargePush') {
      m.target = `Pier < ${opts.rssLimitMB} MB`;
      m.pass = pm < opts.rssLimitMB;
    }
    metrics[key] = m;
  }
  return metrics;
}

function table(metrics, opts) {
  const rows = [['metric', 'unit', 'Pier', 'reference', 'Pier/ref', 'per round', 'target', '']];
  const range = (values) => (values.length > 1 ? `${fmt(Math.min(...values))}..${fmt(Math.max(...values))}` : '');
  for (const [key, m] of Object.entries(metrics)) {
    let label = m.label;
    if (key === 'tagsFull') label += ` (${m.pier.samples[0].count} tags)`;
    if (key === 'tagsPaged') label += ` (n=${opts.pageSize}; pages: Pier ${m.pier.samples[0].pages}, ref ${m.reference.samples[0].pages})`;
    if (key === 'manifestGet' || key === 'blobHead') label += ` (c=${opts.connections}, ${m.pier.samples[0].client})`;
    if (key === 'manifestPut') label += ` (c=${opts.putConcurrency})`;
    if (key === 'chunked') label = `Chunked upload (${opts.chunkMiB} MiB PATCHes + PUT)`;
    if (key.startsWith('large') || key.startsWith('rssLarge')) label += ` (${opts.largeMiB} MiB)`;
    const note = m.better === 'lower' ? '(lower is better)' : '';
    rows.push([label, m.unit, fmt(m.pier.median), fmt(m.reference.median), fmt(m.ratio), range(m.roundRatios), m.target ?? '', m.pass === undefined ? note : m.pass ? 'ok' : 'MISSED']);
    if (m.cpuUnit) {
      const cpuRatios = m.pier.samples.map((s, i) => s.cpu / m.reference.samples[i]?.cpu).filter(Number.isFinite);
      rows.push([`  server CPU per op`, m.cpuUnit, fmt(m.pier.cpuMedian), fmt(m.reference.cpuMedian), fmt(m.pier.cpuMedian / m.reference.cpuMedian), range(cpuRatios), '', '(lower is better)']);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i >= 2 && i <= 5 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

// ---- main ----------------------------------------------------------------------------------------------

function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function ensureBuilt(opts) {
  if (opts.pierRoot !== ROOT) {
    if (!existsSync(path.join(opts.pierRoot, 'dist/cli/main.js'))) throw new Error(`${opts.pierRoot}/dist/cli/main.js is missing`);
    return;
  }
  if (!opts.build && existsSync(path.join(ROOT, 'dist/cli/main.js'))) return;
  log('building Pier (npm run build)');
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

function describeMachine(opts) {
  const cpus = os.cpus();
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: opts.pierRoot, encoding: 'utf8' }).stdout?.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: opts.pierRoot, encoding: 'utf8' }).stdout?.trim();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    memoryMB: Math.round(os.totalmem() / MB),
    kernel: os.release(),
    node: process.version,
    pierRoot: opts.pierRoot,
    // +dirty: src/ differs from the commit (dist/ may hold a build of either)
    pierCommit: git ? `${git}${dirty ? '+dirty' : ''}` : undefined,
  };
}

async function main() {
  const opts = readOptions();
  cleanup.keep = opts.keep;
  const watchdog = setTimeout(() => {
    log(`aborting: the run took longer than ${opts.timeoutMin} minutes (--timeout-min)`);
    stopEverythingNow();
    process.exit(124);
  }, opts.timeoutMin * 60_000);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      log(`${signal}: stopping the servers`);
      stopEverythingNow();
      process.exit(130);
    });
  }
  if (!existsSync(opts.reference)) throw new UsageError(`the reference registry ${opts.reference} is missing (apt-get install docker-registry, or --reference)`);
  opts.wrk = hasWrk();
  if (opts.client === 'wrk' && !opts.wrk) throw new UsageError('--client wrk, but wrk is not installed (apt-get install wrk)');
  ensureBuilt(opts);

  const machine = describeMachine(opts);
  machine.reference = spawnSync(opts.reference, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pier-bench-'));
  cleanup.dirs.add(dir);
  log(`temporary directory ${dir}${opts.keep ? ' (kept)' : ''}`);
  log(`rounds ${opts.rounds}, blobs ${opts.sizeMiB} MiB, chunks ${opts.chunkMiB} MiB, large push ${opts.largeMiB} MiB, ${opts.tags} tags, rates ${opts.duration}s at c=${opts.connections}, GET client ${opts.client === 'node' || !opts.wrk ? 'node' : 'wrk'}, Pier fsync ${opts.pierFsync || 'default (true)'}`);

  if (opts.backends === 'scale-out') {
    opts.scaleOut = await prepareScaleOut(opts);
    cleanup.scaleOut = opts.scaleOut;
    log(`scale-out backends: ${opts.scaleOut.describe}`);
  }
  const pier = await startPier(opts, dir);
  const reference = await startReference(opts, dir);
  const servers = [pier, reference];
  log(`Pier pid ${pier.pid} at ${pier.url}; reference pid ${reference.pid} at ${reference.url}`);
  const samples = { pier: {}, reference: {} };
  const add = (server, key, sample) => (samples[server.name][key] ??= []).push(sample);
  const started = Date.now();
  try {
    for (const server of servers) add(server, 'rssStart', { value: memory(server.pid).rss / MB });
    for (const server of servers) {
      const repo = 'bench/app';
      const image = await pushImageBlobs(server, repo);
      await putManifest(server, repo, 'latest', image.manifest('latest'));
      server.state.app = { repo, ...image };
    }
    for (let round = 1; round <= opts.rounds; round++) {
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const [key, phase] of PHASES) {
        if (!opts.phases.has(key)) continue;
        for (const server of order) {
          const sample = await phase(server, opts, round);
          add(server, key, sample);
          log(`round ${round}/${opts.rounds} ${key.padEnd(11)} ${server.label.padEnd(9)} ${fmt(sample.value)} ${METRICS[key].unit}, server CPU ${fmt(sample.cpu)} ${METRICS[key].cpuUnit}`);
        }
      }
    }
    for (const server of servers) add(server, 'rssRounds', { value: memory(server.pid).hwm / MB });
    if (opts.largeMiB > 0 && opts.phases.has('large')) {
      log(`hashing the ${opts.largeMiB} MiB blob`);
      prefixHash(opts.largeMiB * MiB - 32);
      for (const server of servers) {
        const r = await largePhase(server, opts);
        add(server, 'largePush', r.push);
        add(server, 'largePull', r.pull);
        add(server, 'rssLargePush', r.pushRss);
        add(server, 'rssLargePull', r.pullRss);
        log(`large ${server.label}: push ${fmt(r.push.value)} MB/s, peak RSS ${fmt(r.pushRss.value)} MB; pull ${fmt(r.pull.value)} MB/s, peak RSS ${fmt(r.pullRss.value)} MB`);
      }
    }
    for (const server of servers) server.assertAlive();
  } catch (error) {
    for (const server of servers) {
      if (server.exited) log(`${server.label} log:\n${server.logTail()}`);
    }
    throw error;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    if (opts.scaleOut) {
      log('removing the scale-out schema and prefixes');
      await opts.scaleOut.cleanup().catch((error) => log(`scale-out cleanup failed: ${error.message}`));
      delete cleanup.scaleOut;
    }
  }

  const metrics = summarize(samples, opts);
  const results = {
    date: new Date().toISOString(),
    label: opts.label || undefined,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine,
    options: { ...opts, out: path.relative(ROOT, opts.out), phases: [...opts.phases], wrk: undefined, scaleOut: opts.scaleOut?.describe },
    getClient: opts.client === 'node' || !opts.wrk ? 'node' : 'wrk',
    metrics,
  };
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  const dated = path.join(path.dirname(opts.out), `${results.date.replace(/[:.]/g, '-')}${opts.label ? `-${opts.label.replace(/[^\w.-]+/g, '_')}` : ''}.json`);
  writeFileSync(dated, `${JSON.stringify(results, null, 2)}\n`);

  const shown = (file) => (file.startsWith(ROOT + path.sep) ? path.relative(ROOT, file) : file);
  process.stdout.write(
    `\nPier ${machine.pierCommit ?? machine.pierRoot}${opts.label ? ` (${opts.label})` : ''} vs ${machine.reference} — ${machine.cpus} CPU ${machine.cpuModel}, Node ${machine.node}\n` +
      `medians of ${opts.rounds} rounds (runs alternate between the servers); blobs ${opts.sizeMiB} MiB; Pier fsync ${opts.pierFsync || 'default (true)'}; MB = 10^6 bytes\n\n` +
      `${table(metrics, opts)}\n\nresults: ${shown(opts.out)} (and ${shown(dated)})\n`,
  );
  const missed = Object.entries(metrics).filter(([, m]) => m.pass === false).map(([k]) => k);
  if (missed.length) process.stdout.write(`Pier missed: ${missed.join(', ')}\n`);
  if (opts.check && missed.length) process.exitCode = 3;
  if (!opts.keep) {
    log(`removing ${dir} (deleting gigabytes can take a while on a disk mounted with discard)`);
    rmSync(dir, { recursive: true, force: true });
  }
  cleanup.dirs.delete(dir);
}

class UsageError extends Error {}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof UsageError ? error.message : (error.stack ?? error)}\n`);
  stopEverythingNow();
  process.exit(1);
});
