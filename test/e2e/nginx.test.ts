// deploy/nginx.conf, for real: two Pier replicas (separate processes over one PostgreSQL schema and
// shared storage) behind nginx run from that file, and the docker CLI logging in, pushing and
// pulling through nginx. The access log shows that both replicas served the push.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { inCi, requireTool, run, runOk, skipUnless, which, type Availability } from '../support/exec.js';
import { startReplicas, type Replica } from '../support/replicas.js';
import { scaleOutBackends, skipUnlessScaleOut, type ScaleOut } from '../support/scale-out.js';

const CONFIG = new URL('../../deploy/nginx.conf', import.meta.url).pathname;

async function findNginx(): Promise<Availability<string>> {
  const path = (await which('nginx')) ?? (await which('/usr/sbin/nginx'));
  return path ? { ok: true, value: path } : { ok: false, reason: 'nginx not found (apt-get install -y nginx-light)' };
}

const nginxFound = await findNginx();
const daemon = await findDockerDaemon();
const backendsSkip = await skipUnlessScaleOut();
const skip = backendsSkip ?? (!nginxFound.ok && !inCi ? skipUnless(nginxFound) : {});

/** A port nothing listens on right now (nginx cannot listen on port 0 and say which it got). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * deploy/nginx.conf as a test runs it: the replicas' ports, plain HTTP on free local ports, files
 * in `dir`, one worker (so that round robin strictly alternates). Every substitution must match
 * exactly once: a change to the file that the test no longer understands fails here.
 */
function renderNginxConfig(text: string, options: { dir: string; listen: number; redirect: number; upstreams: string[] }): string {
  const replace = (pattern: RegExp, replacement: string) => {
    const matches = text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))?.length ?? 0;
    assert.equal(matches, 1, `deploy/nginx.conf: expected one match of ${pattern}, found ${matches}`);
    text = text.replace(pattern, replacement);
  };
  replace(/^worker_processes .*;$/m, 'worker_processes 1;');
  replace(/^pid .*;$/m, `pid ${options.dir}/nginx.pid;`);
  replace(/^error_log .*;$/m, `error_log ${options.dir}/error.log info;`);
  replace(/^(\s*)access_log \S+ pier;$/m, `$1access_log ${options.dir}/access.log pier;\n$1client_body_temp_path ${options.dir}/body;\n$1proxy_temp_path ${options.dir}/proxy;`);
  replace(/^(\s*)server 127\.0\.0\.1:5001 (.*)\n\s*server 127\.0\.0\.1:5002 .*$/m, options.upstreams.map((u) => `$1server ${u} $2`).join('\n'));
  replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${options.redirect};`);
  replace(/^(\s*)listen 443 ssl;$/m, `$1listen 127.0.0.1:${options.listen};`);
  replace(/^\s*ssl_certificate .*\n\s*ssl_certificate_key .*\n\s*ssl_protocols .*\n\s*ssl_session_cache .*\n/m, '');
  return text;
}

describe('Pier replicas behind nginx (deploy/nginx.conf)', { ...skip, timeout: 15 * 60_000 }, () => {
  let nginx: string;
  let dir: string;
  let backends: ScaleOut;
  let replicas: Replica[] = [];
  let started = false;
  let url: string;
  let redirectUrl: string;
  let docker: DockerClient;
  let imageId: string;
  let local: string;
  const refs = new Set<string>();
  const alice = { username: 'alice', secret: 'alice-password-1' };
  const nginxArgs = () => ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];

  before(async () => {
    nginx = requireTool(nginxFound);
    dir = await mkdtemp(join(tmpdir(), 'pier-nginx-'));
    await chmod(dir, 0o755); // nginx's workers (nobody, when started as root) reach their temp directories
    const template = await readFile(CONFIG, 'utf8');
    // the replicas need the public URL, nginx the replicas' ports: nginx's port is chosen first
    for (let attempt = 1; ; attempt++) {
      const [listen, redirect] = [await freePort(), await freePort()];
      url = `http://127.0.0.1:${listen}`;
      redirectUrl = `http://127.0.0.1:${redirect}`;
      if (replicas.length === 0) {
        backends = await scaleOutBackends();
        replicas = await startReplicas(2, backends, { PIER_PUBLIC_URL: url, PIER_TRUST_PROXY: '127.0.0.1' });
      } else {
        for (const r of replicas) await r.stop();
        replicas = await startReplicas(2, backends, { PIER_PUBLIC_URL: url, PIER_TRUST_PROXY: '127.0.0.1' });
      }
      const config = renderNginxConfig(template, { dir, listen, redirect, upstreams: replicas.map((r) => r.host) });
      await writeFile(join(dir, 'nginx.conf'), config);
      await runOk(nginx, ['-t', '-q', ...nginxArgs()], { timeoutMs: 30_000 });
      // without `daemon off` the command returns once nginx listens: no waiting needed afterwards
      const start = await run(nginx, nginxArgs(), { timeoutMs: 30_000 });
      if (start.code === 0) break;
      if (attempt === 3 || !/Address already in use/.test(start.stderr)) throw new Error(`nginx did not start:\n${start.stderr}`);
    }
    started = true;
  });

  after(async () => {
    await docker?.cleanup([...refs, ...(imageId ? [imageId] : [])]);
    if (started) await run(nginx, ['-s', 'stop', ...nginxArgs()], { timeoutMs: 30_000 });
    await Promise.all(replicas.map((r) => r.stop()));
    await backends?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const accessLog = async () => (await readFile(join(dir, 'access.log'), 'utf8')).trim().split('\n');

  it('answers health checks and redirects plain HTTP to HTTPS', async () => {
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { status: string }).status, 'ready');
    const redirect = await fetch(`${redirectUrl}/v2/`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), 'https://127.0.0.1/v2/');
  });

  it('sends docker to the token realm of PIER_PUBLIC_URL, through nginx', async () => {
    const res = await fetch(`${url}/v2/`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="${url}/token"`));
    const signUp = await fetch(`${url}/api/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: alice.username, password: alice.secret }),
    });
    assert.equal(signUp.status, 201, await signUp.text());
  });

  it('docker logs in, pushes and pulls through nginx, and both replicas serve the push', skipUnless(daemon), async (t) => {
    docker = await DockerClient.create(requireTool(daemon));
    const registry = new URL(url).host;
    local = `pier-nginx-test:${Date.now()}`;
    imageId = (await docker.buildImage({ 'big.bin': randomBytes(12 * 1024 * 1024), 'small.bin': randomBytes(1000) }, local)).id;
    const ref = `${registry}/alice/app:v1`;
    refs.add(ref);
    await docker.ok(['tag', imageId, ref]);

    const login = await docker.ok(['login', '--username', alice.username, '--password-stdin', registry], { input: alice.secret });
    assert.match(login.stdout, /Login Succeeded/);
    await docker.ok(['push', ref]);
    // both names: the image and its layers leave the daemon, so the pull downloads every byte
    await docker.ok(['rmi', ref, local]);
    await docker.ok(['pull', ref]);
    assert.equal((await docker.inspectImage(ref)).Id, imageId);

    const lines = await accessLog();
    const served = new Map<string, number>();
    for (const line of lines) {
      const upstream = /upstream=(\S+)/.exec(line)?.[1];
      if (upstream && upstream !== '-') served.set(upstream, (served.get(upstream) ?? 0) + 1);
    }
    t.diagnostic(`requests per replica: ${[...served].map(([host, n]) => `${host} ${n}`).join(', ')}`);
    for (const replica of replicas) assert.ok((served.get(replica.host) ?? 0) > 0, `replica ${replica.host} served nothing:\n${lines.join('\n')}`);
    // the layers went through nginx as uploads (PATCH streamed, PUT completing) and came back out
    assert.ok(lines.some((l) => /"PATCH \/v2\/alice\/app\/blobs\/uploads\/\S+ HTTP\/1\.1" 202 /.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /"PUT \/v2\/alice\/app\/blobs\/uploads\/\S+digest=sha256%3A\S+ HTTP\/1\.1" 201 /.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /"GET \/v2\/alice\/app\/blobs\/sha256:\S+ HTTP\/1\.1" 200 12\d{6} /.test(l)), 'the 12 MB layer came back through nginx');
    // no stickiness: an upload whose chunk and completion were served by different replicas
    const byUpload = new Map<string, Set<string>>();
    for (const line of lines) {
      const match = /"(?:PATCH|PUT) \/v2\/alice\/app\/blobs\/uploads\/([0-9a-f-]+)\S* HTTP\/1\.1" 20[12] .*upstream=(\S+)/.exec(line);
      if (match) byUpload.set(match[1]!, (byUpload.get(match[1]!) ?? new Set()).add(match[2]!));
    }
    assert.ok([...byUpload.values()].some((upstreams) => upstreams.size > 1), `no upload continued on another replica:\n${lines.join('\n')}`);
  });
});
