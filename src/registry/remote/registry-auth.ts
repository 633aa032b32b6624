import type { Clock } from '../ports.js';
import { parseChallenge, type Challenge } from './challenge.js';
import { discard, send, USER_AGENT } from './http.js';
import { asRemote, expectStatus, readJson, RemoteError } from './remote-error.js';

export interface RemoteCredentials {
  username: string;
  password: string;
}

const TOKEN_MARGIN_MS = 10_000;

/**
 * The credentials of one registry's requests, the Docker token spec's way: a request answered
 * 401 with `WWW-Authenticate: Bearer realm=...,service=...` gets a token from the realm for exactly
 * the scopes it needs (with the configured username and password as Basic credentials, or
 * anonymously), kept until it expires; a registry that asks for Basic gets the credentials on every
 * request. Once the challenge is known, tokens for new scopes are fetched without a 401 first.
 */
export class RegistryAuth {
  readonly #base: URL;
  readonly #host: string;
  readonly #credentials: RemoteCredentials | undefined;
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #tokens = new Map<string, { header: string; expiresAt: number }>();
  #challenge: Challenge | undefined;

  constructor(base: URL, credentials: RemoteCredentials | undefined, clock: Clock, idleMs: number) {
    this.#base = base;
    this.#host = base.host;
    this.#credentials = credentials;
    this.#clock = clock;
    this.#idleMs = idleMs;
  }

  /** The Authorization a request under `scopes` carries, when it is known without asking anyone. */
  cached(scopes: string[]): string | undefined {
    if (this.#challenge?.scheme === 'basic') return this.#basic();
    const key = scopes.join(' ');
    const token = this.#tokens.get(key);
    if (token && token.expiresAt > this.#clock.now()) return token.header;
    this.#tokens.delete(key);
    return undefined;
  }

  /** Credentials for a request that cannot be sent twice: learns the challenge from `/v2/` when needed. */
  async prepare(scopes: string[]): Promise<string | undefined> {
    if (!this.#challenge) {
      const probe = await send({ method: 'GET', url: new URL('v2/', this.#base), headers: { 'user-agent': USER_AGENT }, idleMs: this.#idleMs }).catch((error: unknown) => {
        throw asRemote(error, this.#host);
      });
      discard(probe);
      if (probe.statusCode !== 401) return undefined;
      const challenge = parseChallenge(probe.headers['www-authenticate']);
      if (!challenge) return undefined;
      this.#challenge = challenge;
    }
    return this.#authorize(this.#challenge, scopes);
  }

  /**
   * After a 401 that carried `previous`: fresh credentials from its challenge, or a refusal (none
   * to give, or the same ones again). `basic`: a second 401 means the credentials are wrong.
   */
  async answer(header: string | string[] | undefined, scopes: string[], previous: string | undefined): Promise<{ authorization: string; basic: boolean }> {
    const challenge = parseChallenge(header);
    if (!challenge) throw new RemoteError('refused', `${this.#host} requires authentication but sent no challenge`, 401);
    this.#challenge = challenge;
    const fresh = await this.#authorize(challenge, scopes);
    if (fresh === undefined || fresh === previous) throw this.refused();
    return { authorization: fresh, basic: challenge.scheme === 'basic' };
  }

  refused(): RemoteError {
    return new RemoteError('refused', `${this.#host} refused ${this.#credentials ? `the credentials of ${this.#credentials.username}` : 'anonymous access'} (401)`, 401);
  }

  #basic(): string | undefined {
    const c = this.#credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  /** A token from the challenge's realm for `scopes` (Basic credentials when configured), kept until it expires. */
  async #authorize(challenge: Challenge, scopes: string[]): Promise<string | undefined> {
    if (challenge.scheme === 'basic') return this.#basic();
    if (challenge.scheme !== 'bearer') throw new RemoteError('refused', `${this.#host} asks for ${challenge.scheme} authentication, which Pier does not speak`, 401);
    const realm = challenge.params.realm;
    if (!realm) throw new RemoteError('invalid', `${this.#host} sent a Bearer challenge without a realm`, 401);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RemoteError('invalid', `${this.#host} sent an invalid token realm`, 401);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const basic = this.#basic();
    const response = await send({
      method: 'GET',
      url,
      headers: { 'user-agent': USER_AGENT, accept: 'application/json', ...(basic ? { authorization: basic } : {}) },
      idleMs: this.#idleMs,
    }).catch((error: unknown) => {
      throw asRemote(error, url.host);
    });
    if (response.statusCode === 401 || response.statusCode === 403) {
      discard(response);
      const who = this.#credentials ? `the credentials of ${this.#credentials.username}` : 'an anonymous token';
      throw new RemoteError('refused', `the token service of ${this.#host} refused ${who} (${response.statusCode})`, response.statusCode);
    }
    await expectStatus(response, [200], 'a token', this.#host);
    const json = await readJson(response, this.#host);
    const token = typeof json.token === 'string' ? json.token : typeof json.access_token === 'string' ? json.access_token : undefined;
    if (!token) throw new RemoteError('invalid', `the token service of ${this.#host} answered without a token`);
    const lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
    const header = `Bearer ${token}`;
    this.#tokens.set(scopes.join(' '), { header, expiresAt: this.#clock.now() + Math.max(1_000, lifetime * 1000 - TOKEN_MARGIN_MS) });
    return header;
  }
}
