#!/usr/bin/env node
// Pier (token mode and open) against the reference registry (distribution 2.8, Debian's
// `docker-registry`), side by side. Plain Node ESM, no dependencies; `wrk` for the manifest GET
// rate when installed, the docker CLI for the docker phase when a daemon answers.
// Usage and the meaning of every number: bench/README.md. The parts: bench/lib/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MB, MiB, prefixHash } from './lib/content.mjs';
import { hasWrk } from './lib/load.mjs';
import { readOptions, ROOT, UsageError } from './lib/options.mjs';
import { concurrencyPoint } from './lib/phases/concurrency.mjs';
import { dockerCleanup, dockerRoundDone } from './lib/phases/docker.mjs';
import { stopBareNode } from './lib/phases/bare-node.mjs';
import { stopBareDocker } from './lib/phases/bare-docker.mjs';
import { BARE_PHASES, ROUND_PHASES } from './lib/phases/index.mjs';
import { afterIdle } from './lib/phases/after-idle.mjs';
import { large } from './lib/phases/large.mjs';
import { memory } from './lib/proc.mjs';
import { pushImageBlobs, putManifest } from './lib/registry.mjs';
import { fmt, metricOf, summarize, table } from './lib/report.mjs';
import { cleanup, startPier, startReference, stopEverythingNow } from './lib/servers.mjs';
import { prepareScaleOut } from './scale-out.mjs';

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
    reference: spawnSync(opts.reference, ['--version'], { encoding: 'utf8' }).stdout?.trim(),
  };
}

function installStops(opts) {
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
}

/** The measurements, every server in turn: the rounds, then the concurrency curve, then the large push. */
async function measure(opts, servers, add) {
  for (const server of servers) add(server, 'rssStart', { value: memory(server.pid).rss / MB });
  for (const server of servers) {
    const repo = 'bench/app';
    const image = await pushImageBlobs(server, repo);
    await putManifest(server, repo, 'latest', image.manifest('latest'));
    server.state.app = { repo, ...image };
  }
  const inOrder = (i) => (i % 2 === 1 ? servers : [...servers].reverse()); // Pier first in odd rounds
  for (let round = 1; round <= opts.rounds; round++) {
    for (const [name, phase] of ROUND_PHASES) {
      if (!opts.phases.has(name)) continue;
      for (const server of inOrder(round)) {
        for (const [key, sample] of Object.entries(await phase(server, opts, round, log))) {
          add(server, key, sample);
          const { def } = metricOf(key);
          log(`round ${round}/${opts.rounds} ${key.padEnd(15)} ${server.label.padEnd(10)} ${fmt(sample.value)} ${def.unit}, server CPU ${fmt(sample.cpu)} ${def.cpuUnit}`);
        }
      }
      for (const [bareName, after, bare] of BARE_PHASES) {
        if (after !== name || !opts.phases.has(bareName)) continue;
        for (const [key, sample] of Object.entries(await bare(servers[0], opts, round, log))) {
          add({ name: 'bareNode' }, key, sample);
          log(`round ${round}/${opts.rounds} ${key.padEnd(15)} ${'bare node'.padEnd(10)} ${fmt(sample.value)} ${metricOf(key).def.unit}, server CPU ${fmt(sample.cpu)} ${metricOf(key).def.cpuUnit}`);
        }
      }
      if (name === 'docker') await dockerRoundDone(opts, round);
    }
  }
  for (const server of servers) add(server, 'rssRounds', { value: memory(server.pid).hwm / MB });
  if (opts.phases.has('concurrency')) {
    for (let run = 1; run <= opts.mixRounds; run++) {
      for (const [i, clients] of opts.clients.entries()) {
        for (const server of inOrder(run + i)) {
          const sample = await concurrencyPoint(server, opts, clients, run);
          add(server, `concurrency@${clients}`, sample);
          log(`mixed ${run}/${opts.mixRounds} ${String(clients).padStart(3)} clients ${server.label.padEnd(10)} ${fmt(sample.value)} req/s, p50 ${fmt(sample.p50ms)} ms, p99 ${fmt(sample.p99ms)} ms, server CPU ${fmt(sample.cpu)} µs/req`);
        }
      }
    }
  }
  if (opts.phases.has('afterIdle')) {
    log(`every server idles ${opts.idleSeconds} s`);
    await sleep(opts.idleSeconds * 1000);
    for (const server of servers) {
      const r = await afterIdle(server, opts);
      for (const [key, sample] of Object.entries(r)) add(server, key, sample);
      log(`after idle ${server.label}: monolithic ${fmt(r.idleMonolithic.value)} MB/s, ${fmt(r.idleMonolithic.cpu)} ms/MB; chunked ${fmt(r.idleChunked.value)} MB/s, ${fmt(r.idleChunked.cpu)} ms/MB`);
    }
  }
  if (opts.largeMiB > 0 && opts.phases.has('large')) {
    log(`hashing the ${opts.largeMiB} MiB blob`);
    prefixHash(opts.largeMiB * MiB - 32);
    for (const server of servers) {
      const r = await large(server, opts);
      for (const [key, sample] of Object.entries(r)) add(server, key, sample);
      log(`large ${server.label}: push ${fmt(r.largePush.value)} MB/s, peak RSS ${fmt(r.rssLargePush.value)} MB; pull ${fmt(r.largePull.value)} MB/s, peak RSS ${fmt(r.rssLargePull.value)} MB`);
    }
  }
  for (const server of servers) server.assertAlive();
}

async function main() {
  const opts = readOptions();
  cleanup.keep = opts.keep;
  installStops(opts);
  if (!existsSync(opts.reference)) throw new UsageError(`the reference registry ${opts.reference} is missing (apt-get install docker-registry, or --reference)`);
  opts.wrk = hasWrk();
  if (opts.client === 'wrk' && !opts.wrk) throw new UsageError('--client wrk, but wrk is not installed (apt-get install wrk)');
  ensureBuilt(opts);

  const machine = describeMachine(opts);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pier-bench-'));
  cleanup.dirs.add(dir);
  opts.workDir = dir;
  log(`temporary directory ${dir}${opts.keep ? ' (kept)' : ''}`);
  log(`rounds ${opts.rounds}, blobs ${opts.sizeMiB} MiB, chunks ${opts.chunkMiB} MiB, large push ${opts.largeMiB} MiB, ${opts.tags} tags, rates ${opts.duration}s at c=${opts.connections}, GET client ${opts.client === 'node' || !opts.wrk ? 'node' : 'wrk'}, Pier ${opts.pierAuth.join(' and ')} mode, fsync ${opts.pierFsync || 'default (true)'}`);

  // scale-out: each Pier its own schema and prefixes; the reference on the first's
  const scaleOuts = [];
  if (opts.backends === 'scale-out') {
    for (const _ of opts.pierAuth) scaleOuts.push(await prepareScaleOut(opts));
    cleanup.scaleOut = scaleOuts;
    log(`scale-out backends: ${scaleOuts.map((s) => s.describe).join('; ')}`);
  }
  const servers = [];
  const samples = {};
  const keys = [];
  const add = (server, key, sample) => {
    if (!keys.includes(key)) keys.push(key);
    ((samples[server.name] ??= {})[key] ??= []).push(sample);
  };
  const started = Date.now();
  try {
    for (const [i, mode] of opts.pierAuth.entries()) servers.push(await startPier(opts, dir, mode, scaleOuts[i]));
    servers.push(await startReference(opts, dir, scaleOuts[0]));
    log(servers.map((s) => `${s.label} pid ${s.pid} at ${s.url}`).join('; '));
    await measure(opts, servers, add);
  } catch (error) {
    for (const server of servers) {
      if (server.exited) log(`${server.label} log:\n${server.logTail()}`);
    }
    throw error;
  } finally {
    await Promise.all([...servers.map((s) => s.stop()), stopBareNode(), stopBareDocker()]);
    if (opts.phases.has('docker')) dockerCleanup(opts);
    if (scaleOuts.length) {
      log('removing the scale-out schemas and prefixes');
      for (const s of scaleOuts) await s.cleanup().catch((error) => log(`scale-out cleanup failed: ${error.message}`));
      delete cleanup.scaleOut;
    }
  }

  const headline = servers[0].name;
  const serverNames = servers.map((s) => s.name);
  const metrics = summarize(samples, keys, headline, opts);
  const results = {
    date: new Date().toISOString(),
    label: opts.label || undefined,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine,
    options: { ...opts, out: path.relative(ROOT, opts.out), phases: [...opts.phases], wrk: undefined, workDir: undefined },
    getClient: opts.client === 'node' || !opts.wrk ? 'node' : 'wrk',
    servers: Object.fromEntries(servers.map((s) => [s.name, { label: s.label, mode: s.mode ?? 'open', tokens: s.auth?.stats }])),
    metrics,
  };
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  const dated = path.join(path.dirname(opts.out), `${results.date.replace(/[:.]/g, '-')}${opts.label ? `-${opts.label.replace(/[^\w.-]+/g, '_')}` : ''}.json`);
  writeFileSync(dated, `${JSON.stringify(results, null, 2)}\n`);

  const shown = (file) => (file.startsWith(ROOT + path.sep) ? path.relative(ROOT, file) : file);
  const tokens = servers.find((s) => s.auth)?.auth.stats;
  process.stdout.write(
    `\nPier ${machine.pierCommit ?? machine.pierRoot}${opts.label ? ` (${opts.label})` : ''} vs ${machine.reference} — ${machine.cpus} CPU ${machine.cpuModel}, Node ${machine.node}\n` +
      `medians of ${opts.rounds} rounds (runs alternate between the servers); blobs ${opts.sizeMiB} MiB; Pier fsync ${opts.pierFsync || 'default (true)'}; MB = 10^6 bytes\n` +
      `Pier ${opts.pierAuth.join(' and ')} mode${tokens ? ` (token mode: ${tokens.tokens} tokens fetched, ${tokens.refreshesBeforeExpiry} refreshed before expiry, ${tokens.refreshesOn401} after a 401)` : ''}; the reference runs open (it has no token server)\n\n` +
      `${table(metrics, opts, serverNames, headline)}\n\nresults: ${shown(opts.out)} (and ${shown(dated)})\n`,
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

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof UsageError ? error.message : (error.stack ?? error)}\n`);
  stopEverythingNow();
  process.exit(1);
});
