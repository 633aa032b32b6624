import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * Secrets Pier must use later in clear (the password of an upstream registry, of a replication
 * target), sealed with a key derived from the installation secret: AES-256-GCM, a fresh IV each
 * time, and `context` (what the secret belongs to: `proxy hub`, `replication site-b`) bound in as
 * additional data, so a sealed value copied onto another row does not open. Stored as
 * `v1.<iv>.<tag>.<ciphertext>` (base64url). Every replica needs the same installation secret.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(installationSecret: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', installationSecret, Buffer.alloc(0), 'pier sealed credentials v1', 32));
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  /** Throws when the value was sealed with another secret, for another context, or altered. */
  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) throw new Error(`the stored credentials of ${context} are not in a known format`);
    const [, iv, tag, ciphertext] = parts as [string, string, string, string];
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`the stored credentials of ${context} do not open with this installation secret (was PIER_SECRET_KEY_FILE changed?)`);
    }
  }
}

/** A SecretBox made on first use: the installation secret is read (or created) only when a secret is sealed or opened. */
export function lazySecretBox(loadSecret: () => Promise<Buffer>): () => Promise<SecretBox> {
  let box: Promise<SecretBox> | undefined;
  return () => {
    box ??= loadSecret().then(
      (secret) => new SecretBox(secret),
      (error: unknown) => {
        box = undefined;
        throw error;
      },
    );
    return box;
  };
}
