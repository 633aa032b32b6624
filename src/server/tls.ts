import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError } from './config.js';

/** The TLS settings of the config: PEM files, both or neither (PIER_TLS_CERT, PIER_TLS_KEY). */
export interface TlsFiles {
  cert?: string;
  key?: string;
}

/** A certificate chain and its private key, read and checked against each other. */
export interface TlsMaterial {
  certFile: string;
  keyFile: string;
  /** the PEM chain as read: the server's certificate first, then intermediates */
  cert: Buffer;
  key: Buffer;
  /** the server's own certificate (the first of the chain) */
  certificate: X509Certificate;
}

/** The oldest protocol Pier speaks: TLS 1.0 and 1.1 are refused. */
export const TLS_MIN_VERSION = 'TLSv1.2';

/**
 * Reads the certificate and key files the config names; undefined when TLS is not configured.
 * Every problem is a ConfigError that names the setting and the file: unreadable, not PEM, an
 * encrypted key, or a key that does not belong to the certificate.
 */
export async function loadTls(files: TlsFiles): Promise<TlsMaterial | undefined> {
  if (!files.cert && !files.key) return undefined;
  if (!files.cert || !files.key) throw new ConfigError('TLS needs both tls.cert (PIER_TLS_CERT) and tls.key (PIER_TLS_KEY)');
  const certFile = files.cert;
  const keyFile = files.key;
  const cert = await readPem(certFile, 'tls.cert (PIER_TLS_CERT)');
  const key = await readPem(keyFile, 'tls.key (PIER_TLS_KEY)');

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`tls.cert (PIER_TLS_CERT): ${certFile} holds no PEM certificate (${reason(error)})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    const encrypted = /passphrase/i.test(reason(error)) || /ENCRYPTED/.test(key.toString('latin1'));
    throw new ConfigError(
      encrypted
        ? `tls.key (PIER_TLS_KEY): ${keyFile} is encrypted; give Pier an unencrypted key file (readable by Pier only)`
        : `tls.key (PIER_TLS_KEY): ${keyFile} holds no PEM private key (${reason(error)})`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(`tls.key (PIER_TLS_KEY): the key in ${keyFile} does not match the certificate in ${certFile}`);
  }
  try {
    // what the HTTPS server will do with them: the whole chain must parse, not only its first certificate
    createSecureContext(secureContextOptions({ cert, key }));
  } catch (error) {
    throw new ConfigError(`TLS: ${certFile} and ${keyFile} are not usable together (${reason(error)})`);
  }
  return { certFile, keyFile, cert, key, certificate };
}

/** Options for an HTTPS server (HTTP/1.1) over the material. */
export function secureContextOptions(material: { cert: Buffer; key: Buffer }): SecureContextOptions {
  return { cert: material.cert, key: material.key, minVersion: TLS_MIN_VERSION };
}

/** Why the certificate is not valid at `now` (expired, not yet valid), or undefined when it is. */
export function validityProblem(certificate: X509Certificate, now = new Date()): string | undefined {
  const from = new Date(certificate.validFrom);
  const to = new Date(certificate.validTo);
  if (now < from) return `the certificate is not valid before ${from.toISOString()}`;
  if (now > to) return `the certificate expired on ${to.toISOString()}`;
  return undefined;
}

/** One line about a certificate: its subject, the names it is valid for, and until when. */
export function describeCertificate(certificate: X509Certificate): string {
  const subject = certificate.subject.split('\n').find((part) => part.startsWith('CN=')) ?? certificate.subject.replace(/\n/g, ', ');
  const names = certificate.subjectAltName ? `, ${certificate.subjectAltName}` : '';
  return `${subject}${names}, valid until ${new Date(certificate.validTo).toISOString()}`;
}

async function readPem(file: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${reason(error)}`);
  }
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));
