/** A throw-away certificate authority and server certificates, made with the `openssl` CLI. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOk, which, type Availability } from './exec.js';

export interface TestCa {
  dir: string;
  /** PEM file and contents of the CA certificate (what a client trusts) */
  caFile: string;
  caPem: string;
  /** A server certificate signed by the CA for these addresses (subjectAltName IP entries) and DNS names. */
  issue(name: string, options: { ips?: string[]; dns?: string[] }): Promise<{ certFile: string; keyFile: string }>;
  /** a fresh private key that belongs to no certificate */
  newKey(name: string): Promise<string>;
  /** removes every file */
  remove(): Promise<void>;
}

export async function opensslAvailable(): Promise<Availability<string>> {
  const path = await which('openssl');
  return path ? { ok: true, value: path } : { ok: false, reason: 'the openssl CLI is not installed (apt-get install openssl)' };
}

const openssl = (args: string[], cwd: string) => runOk('openssl', args, { cwd, timeoutMs: 30_000 });

/** EC P-256 keys: fast to make, and every TLS client (Go's in dockerd, Node's) accepts them. */
const newKeyArgs = (file: string) => ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file];

export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'pier-tls-'));
  const caFile = join(dir, 'ca.crt');
  await openssl(newKeyArgs('ca.key'), dir);
  await openssl(
    [
      'req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Pier test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const caPem = await readFile(caFile, 'utf8');

  const newKey = async (name: string) => {
    await openssl(newKeyArgs(`${name}.key`), dir);
    return join(dir, `${name}.key`);
  };

  return {
    dir,
    caFile,
    caPem,
    newKey,
    async issue(name, { ips = [], dns = [] }) {
      const keyFile = await newKey(name);
      const names = [...ips.map((ip) => `IP:${ip}`), ...dns.map((d) => `DNS:${d}`)];
      await writeFile(
        join(dir, `${name}.ext`),
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=critical,digitalSignature',
          'extendedKeyUsage=serverAuth',
          ...(names.length > 0 ? [`subjectAltName=${names.join(',')}`] : []),
        ].join('\n') + '\n',
      );
      await openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
      await openssl(
        ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-extfile', `${name}.ext`, '-days', '2'],
        dir,
      );
      return { certFile: join(dir, `${name}.crt`), keyFile };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
