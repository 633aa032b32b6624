// Built-in TLS (PIER_TLS_CERT, PIER_TLS_KEY): a Node HTTPS client trusting a test CA, the start-up
// errors, and the real Docker daemon pushing and pulling with the CA in certs.d, and refusing
// without it.
//
// dockerd treats registries on 127.0.0.0/8 as insecure: it skips verification there (and may fall
// back to plain HTTP), so a test on 127.0.0.1 would prove nothing. The Docker test gives Pier an
// address of its own outside loopback (10.213.x.y on a dummy interface, or one end of a veth pair
// where the dummy driver is missing), which the daemon verifies like any remote registry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless, type Availability } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestCa, opensslAvailable, type TestCa } from '../support/tls.js';

const openssl = await opensslAvailable();

function get(url: string, options: RequestOptions = {}): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ res, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The TLS handshake with these client settings: the negotiated protocol and ALPN, or the error. */
function handshake(port: number, options: ConnectionOptions): Promise<{ protocol: string | null; alpn: string | false } | { error: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), alpn: socket.alpnProtocol ?? false });
      socket.end();
    });
    socket.on('error', (error) => resolve({ error }));
  });
}

describe('built-in TLS', { ...skipUnless(openssl), timeout: 120_000 }, () => {
  let ca: TestCa;
  let cert: { certFile: string; keyFile: string };
  let server: TestServer;

  before(async () => {
    requireTool(openssl);
    ca = await createTestCa();
    cert = await ca.issue('localhost', { ips: ['127.0.0.1'], dns: ['localhost'] });
    server = await startTestServer({ 'auth.mode': 'token', 'tls.cert': cert.certFile, 'tls.key': cert.keyFile });
  });
  after(async () => {
    await server?.stop();
    await ca?.remove();
  });

  it('listens on https and points the token realm at https', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { res } = await get(`${server.url}/v2/`, { ca: ca.caPem });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['www-authenticate'], `Bearer realm="${server.url}/token",service="pier"`);
    const token = await get(`${server.url}/token?service=pier`, { ca: ca.caPem });
    assert.equal(token.res.statusCode, 200);
    assert.ok((JSON.parse(token.body) as { token?: string }).token);
    const ready = await get(`${server.url}/readyz`, { ca: ca.caPem });
    assert.equal(ready.res.statusCode, 200);
  });

  it('is refused by a client that does not trust the CA', async () => {
    await assert.rejects(get(`${server.url}/v2/`), (error: NodeJS.ErrnoException) => {
      assert.match(error.code ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/);
      return true;
    });
  });

  it('speaks TLS 1.2 and 1.3 over HTTP/1.1, and refuses TLS 1.1', async () => {
    const port = Number(new URL(server.url).port);
    const tls13 = await handshake(port, { ca: ca.caPem, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] });
    assert.ok(!('error' in tls13), String('error' in tls13 && tls13.error));
    assert.equal(tls13.protocol, 'TLSv1.3');
    assert.notEqual(tls13.alpn, 'h2', 'no HTTP/2');
    const tls12 = await handshake(port, { ca: ca.caPem, servername: 'localhost', maxVersion: 'TLSv1.2' });
    assert.ok(!('error' in tls12) && tls12.protocol === 'TLSv1.2');
    // SECLEVEL=0 lets this client offer TLS 1.1 at all (OpenSSL 3): the refusal must come from Pier
    const tls11 = await handshake(port, { ca: ca.caPem, servername: 'localhost', minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    assert.ok('error' in tls11, 'TLS 1.1 must fail');
    assert.match(tls11.error.code ?? tls11.error.message, /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
  });

  it('refuses to start when a file is unreadable, not PEM, or the key is not the certificate’s', async () => {
    const other = await ca.newKey('other');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'tls.cert': join(ca.dir, 'missing.crt'), 'tls.key': cert.keyFile }, /tls\.cert \(PIER_TLS_CERT\): cannot read .*missing\.crt: ENOENT/],
      [{ 'tls.cert': cert.certFile, 'tls.key': join(ca.dir, 'missing.key') }, /tls\.key \(PIER_TLS_KEY\): cannot read .*missing\.key/],
      [{ 'tls.cert': cert.keyFile, 'tls.key': cert.keyFile }, /tls\.cert \(PIER_TLS_CERT\): .* holds no PEM certificate/],
      [{ 'tls.cert': cert.certFile, 'tls.key': cert.certFile }, /tls\.key \(PIER_TLS_KEY\): .* holds no PEM private key/],
      [{ 'tls.cert': cert.certFile, 'tls.key': other }, /the key in .*other\.key does not match the certificate in .*localhost\.crt/],
    ];
    for (const [overrides, message] of cases) {
      const dataDir = await mkdtemp(join(tmpdir(), 'pier-tls-start-'));
      try {
        await assert.rejects(startTestServer(overrides, { dataDir }), message);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  });

  it('pier serve exits with the message (exit 2) before creating anything', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pier-tls-serve-'));
    const data = join(parent, 'data');
    try {
      const other = await ca.newKey('other-serve');
      const result = await runPier(['serve', '--listen', '127.0.0.1:0', '--data', data], {
        env: { PIER_TLS_CERT: cert.certFile, PIER_TLS_KEY: other, PIER_AUTH: 'open' },
      });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^pier: tls\.key \(PIER_TLS_KEY\): the key in .* does not match the certificate/m);
      await assert.rejects(stat(data), /ENOENT/, 'no data directory was created');
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

// --- the Docker daemon ------------------------------------------------------------------------

const daemon = await findDockerDaemon();

interface TestAddress {
  ip: string;
  remove(): void;
}

/** A 10.213.x.y/32 address on an interface of its own, removed by remove() (and at exit). */
function addNonLoopbackAddress(): Availability<TestAddress> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'adding a non-loopback test address needs root' };
  const name = `pier-tls${randomBytes(2).toString('hex')}`;
  const ip = `10.213.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  const ipCommand = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const errors: string[] = [];
  let created: string[] | undefined;
  for (const kind of [['dummy'], ['veth', 'peer', 'name', `${name}p`]]) {
    try {
      ipCommand(['link', 'add', name, 'type', ...kind]);
      created = kind;
      break;
    } catch (error) {
      errors.push(String((error as { stderr?: Buffer }).stderr ?? error).trim());
    }
  }
  if (!created) return { ok: false, reason: `cannot create a dummy or veth interface for a non-loopback address: ${errors.join('; ')}` };
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    try {
      ipCommand(['link', 'del', name]); // a veth pair goes with either end
    } catch {
      /* already gone */
    }
  };
  process.once('exit', remove);
  try {
    ipCommand(['addr', 'add', `${ip}/32`, 'dev', name]);
    ipCommand(['link', 'set', name, 'up']);
    if (created[0] === 'veth') ipCommand(['link', 'set', `${name}p`, 'up']);
  } catch (error) {
    remove();
    return { ok: false, reason: `cannot configure ${ip} on ${name}: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}` };
  }
  return { ok: true, value: { ip, remove } };
}

/** Everything the Docker test needs: a local daemon (certs.d is read from this machine), openssl, an address. */
function dockerTlsAvailability(): Availability<{ host: string; address: TestAddress }> {
  if (!daemon.ok) return daemon;
  if (!openssl.ok) return openssl;
  if (!daemon.value.startsWith('unix://')) return { ok: false, reason: `the Docker daemon at ${daemon.value} is not on this machine: it would not read this machine's /etc/docker/certs.d` };
  const address = addNonLoopbackAddress();
  if (!address.ok) return address;
  return { ok: true, value: { host: daemon.value, address: address.value } };
}

const dockerTls = dockerTlsAvailability();
const X509 = /x509|certificate signed by unknown authority|tls: failed to verify/i;

describe('docker push and pull over built-in TLS', { ...skipUnless(dockerTls), timeout: 20 * 60_000 }, () => {
  let ca: TestCa;
  let server: TestServer;
  let docker: DockerClient;
  /** 10.213.x.y:PORT */
  let registry: string;
  let certsDir: string;
  /** /etc/docker/certs.d is removed afterwards when this test made it */
  const certsRoot = '/etc/docker/certs.d';
  const certsRootExisted = existsSync(certsRoot);
  let imageId: string;
  const refs = new Set<string>();

  before(async () => {
    const { host, address } = requireTool(dockerTls);
    ca = await createTestCa();
    const cert = await ca.issue('pier-registry', { ips: [address.ip] });
    server = await startTestServer({
      'auth.mode': 'token',
      listen: `${address.ip}:0`,
      'tls.cert': cert.certFile,
      'tls.key': cert.keyFile,
    });
    registry = new URL(server.url).host;
    assert.equal(server.url, `https://${registry}`);
    certsDir = join(certsRoot, registry);
    await server.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });

    docker = await DockerClient.create(host);
    const tag = `pier-tls-test:${Date.now()}`;
    imageId = (await docker.buildImage({ 'data.bin': randomBytes(200_000) }, tag)).id;
    refs.add(`${registry}/alice/app:v1`);
    await docker.ok(['tag', tag, `${registry}/alice/app:v1`]);
  });

  after(async () => {
    if (certsDir) await rm(certsDir, { recursive: true, force: true });
    if (!certsRootExisted) await rmdir(certsRoot).catch(() => {}); // only if empty: another test may use it
    await docker?.cleanup([...refs, ...(imageId ? [imageId] : [])]);
    await server?.stop();
    await ca?.remove();
    if (dockerTls.ok) dockerTls.value.address.remove();
  });

  const login = () => docker.run(['login', '--username', 'alice', '--password-stdin', registry], { input: 'alice-password-1' });
  const trustCa = async () => {
    await mkdir(certsDir, { recursive: true });
    await writeFile(join(certsDir, 'ca.crt'), ca.caPem);
  };

  it('without the CA, the daemon refuses the certificate (no fallback to plain HTTP)', async () => {
    const result = await login();
    assert.notEqual(result.code, 0, 'login must fail without the CA');
    assert.match(result.stdout + result.stderr, X509);
    const push = await docker.run(['push', `${registry}/alice/app:v1`]);
    assert.notEqual(push.code, 0);
    assert.match(push.stdout + push.stderr, X509);
  });

  it('with the CA in certs.d, logs in, pushes and pulls the same image', async () => {
    await trustCa();
    const result = await login();
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /Login Succeeded/);
    await docker.ok(['push', `${registry}/alice/app:v1`]);
    await docker.ok(['rmi', `${registry}/alice/app:v1`]);
    await docker.ok(['pull', `${registry}/alice/app:v1`]);
    assert.equal((await docker.inspectImage(`${registry}/alice/app:v1`)).Id, imageId);
  });

  it('with the CA removed again, the pull fails with a certificate error', async () => {
    await rm(certsDir, { recursive: true, force: true });
    await docker.run(['rmi', `${registry}/alice/app:v1`]);
    const pull = await docker.run(['pull', `${registry}/alice/app:v1`]);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stdout + pull.stderr, X509);
  });
});
