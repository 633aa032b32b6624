import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedFile, run, runOk, which, type Availability, type RunResult } from './exec.js';

/** The ORAS client's sources: test/clients/oras/main.go. */
const SOURCE_DIR = new URL('../clients/oras/', import.meta.url).pathname;

/** Where Debian's golang-* packages put Go sources (GOPATH mode: no module cache, nothing downloaded). */
const DEBIAN_GOPATH = '/usr/share/gocode';

/**
 * Go (golang-go) and Debian's oras-go sources (golang-oras-oras-go-dev), which the client is built
 * from. The go.mod of the sources is the marker .ci/tools lists for the library.
 */
export async function findOrasToolchain(): Promise<Availability<string>> {
  const go = await which('go');
  if (!go) return { ok: false, reason: 'go not found (apt-get install golang-go)' };
  const sources = await installedFile('/usr/share/gocode/src/oras.land/oras-go/go.mod', 'golang-oras-oras-go-dev');
  if (!sources.ok) return sources;
  return { ok: true, value: go };
}

/**
 * Builds the client, offline, once per version of its source and of Go: the binary and Go's build
 * cache live in a stable folder under the temp directory, so later runs start at once (a first
 * build takes 10-40 s here). Resolves to the binary.
 */
export async function buildOrasClient(go: string): Promise<string> {
  const version = (await runOk(go, ['version'])).stdout.trim();
  const source = await readFile(join(SOURCE_DIR, 'main.go'));
  const key = createHash('sha256').update(version).update(source).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'pier-oras-client');
  const binary = join(dir, `oras-client-${key}`);
  if (await stat(binary).then(() => true, () => false)) return binary;
  await mkdir(dir, { recursive: true });
  const building = `${binary}.${process.pid}.tmp`;
  await runOk(go, ['build', '-o', building, '.'], {
    cwd: SOURCE_DIR,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: DEBIAN_GOPATH, GOCACHE: join(dir, 'go-build'), GOFLAGS: '', GOPROXY: 'off', CGO_ENABLED: '0' },
    timeoutMs: 10 * 60_000,
  });
  await rename(building, binary); // whole or not at all: another run never sees half a binary
  return binary;
}

export interface OrasResult {
  artifact: string;
  referrer: string;
  referrers: { manifests: Array<{ mediaType: string; digest: string; artifactType: string }> };
  signatures: { manifests: Array<{ mediaType: string; digest: string; artifactType: string }> };
  fetchedFile: string;
  fetchedSignature: string;
}

/** Runs the client against `registry` (host:port), with credentials in token mode. */
export function runOrasClient(
  binary: string,
  options: { registry: string; repository: string; content: string; username?: string; password?: string },
): Promise<RunResult> {
  const args = ['-registry', options.registry, '-repository', options.repository, '-content', options.content];
  if (options.username) args.push('-username', options.username, '-password', options.password ?? '');
  return run(binary, args, { timeoutMs: 120_000 });
}
