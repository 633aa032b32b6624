// `docker push` and `docker pull` with the real docker CLI and daemon: an image of
// --docker-layers layers, --docker-mb in all (random, so gzip cannot shrink it), built anew each
// round (DOCKER_BUILDKIT=0 docker build, FROM scratch and one COPY per layer). Each server gets a
// push of it, then the image is removed locally (docker rmi, docker image prune) and pulled back.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiB } from '../content.mjs';
import { timed } from '../measure.mjs';

/** Every image the phase builds carries it; prune touches nothing else of a shared daemon. */
const LABEL = 'org.example.pier-bench';
const PRUNE = ['image', 'prune', '-f', '--filter', `label=${LABEL}`];

const state = { checked: false, available: false, images: new Map(), configDir: undefined };

function dockerEnv(opts) {
  const env = { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: state.configDir };
  if (opts.dockerHost) env.DOCKER_HOST = opts.dockerHost;
  return env;
}

/** Runs docker; rejects with its output when it fails. */
function docker(opts, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: dockerEnv(opts), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.join(' ')} failed (${code}): ${out.slice(-2000)}`))));
    child.stdin.end(input);
  });
}

/** False, with the reason logged once, when there is no docker CLI or daemon. */
export function dockerAvailable(opts, log) {
  if (state.checked) return state.available;
  state.checked = true;
  state.configDir = mkdtempSync(path.join(os.tmpdir(), 'pier-bench-docker-'));
  const r = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { env: dockerEnv(opts), encoding: 'utf8', timeout: 20_000 });
  state.available = r.status === 0;
  if (state.available) log(`docker phase: daemon ${r.stdout.trim()} at ${opts.dockerHost || 'the default socket'}`);
  else log(`docker phase skipped: no docker daemon at ${opts.dockerHost || 'the default socket'} (${(r.error?.message ?? r.stderr ?? '').trim().split('\n')[0]}); start one (scripts/start-dockerd.sh) or pass --docker-host`);
  return state.available;
}

/** The round's image, built once for every server: its local name. */
async function roundImage(opts, round) {
  if (state.images.has(round)) return state.images.get(round);
  const context = mkdtempSync(path.join(os.tmpdir(), 'pier-bench-image-'));
  try {
    const layerBytes = Math.floor((opts.dockerMiB * MiB) / opts.dockerLayers);
    const lines = ['FROM scratch', `LABEL ${LABEL}=${process.pid}`];
    for (let i = 0; i < opts.dockerLayers; i++) {
      writeFileSync(path.join(context, `layer${i}`), randomBytes(layerBytes));
      lines.push(`COPY layer${i} /layer${i}`);
    }
    writeFileSync(path.join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
    const name = `pier-bench-src:${process.pid}-${round}`;
    await docker(opts, ['build', '-q', '-t', name, context]);
    state.images.set(round, name);
    return name;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/**
 * Removes local names and what no image uses any more (of the images this phase made: the
 * daemon may be shared), so that the next pull downloads every layer.
 */
async function removeLocally(opts, names) {
  await docker(opts, ['rmi', '-f', ...names]).catch(() => {});
  await docker(opts, PRUNE);
}

export async function dockerPhase(server, opts, round, log) {
  if (!dockerAvailable(opts, log)) return {};
  const source = await roundImage(opts, round);
  const host = `127.0.0.1:${server.port}`;
  if (server.auth && !server.state.dockerLogin) {
    await docker(opts, ['login', host, '-u', server.auth.username, '--password-stdin'], server.auth.password);
    server.state.dockerLogin = true;
  }
  const target = `${host}/bench/docker:r${round}`;
  await docker(opts, ['tag', source, target]);
  const push = await timed(server, opts, () => docker(opts, ['push', target]).then(() => ({})));
  // nothing of the image stays in the daemon: the pull downloads every layer
  await removeLocally(opts, [target, source]);
  const pull = await timed(server, opts, () => docker(opts, ['pull', target]).then(() => ({})));
  // the pulled image is the same (same config digest): it is the source of the next server's push
  await docker(opts, ['tag', target, source]);
  await docker(opts, ['rmi', target]);
  return { dockerPush: sample(push), dockerPull: sample(pull) };
}

/** After every server's turn of the round: the round's image goes. */
export async function dockerRoundDone(opts, round) {
  const name = state.images.get(round);
  if (!name) return;
  state.images.delete(round);
  await removeLocally(opts, [name]);
}

export function dockerCleanup(opts) {
  for (const name of state.images.values()) spawnSync('docker', ['rmi', '-f', name], { env: dockerEnv(opts), stdio: 'ignore' });
  spawnSync('docker', PRUNE, { env: dockerEnv(opts), stdio: 'ignore' });
  if (state.configDir) rmSync(state.configDir, { recursive: true, force: true });
}

function sample(r) {
  return { value: r.seconds, cpu: r.serverCpu, serverCores: r.serverCpu / r.seconds, serverSystemShare: r.serverSystemShare, clientCpu: r.clientCpu };
}
