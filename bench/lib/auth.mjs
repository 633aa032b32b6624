// Token mode as docker runs it: `docker login` (GET /v2/, its Bearer challenge, then the realm with
// basic auth and offline_token=true, which answers a refresh token), then one access token per
// repository (grant_type=refresh_token, scope repository:NAME:pull,push), kept until shortly before
// it expires, or until the registry answers 401.
import { send } from './http.mjs';

export class TokenClient {
  constructor(server, username, password) {
    this.server = server;
    this.username = username;
    this.password = password;
    this.tokens = new Map(); // repo -> { header, expiresAt } or a promise of it
    this.stats = { logins: 0, tokens: 0, refreshesBeforeExpiry: 0, refreshesOn401: 0 };
  }

  /** GET /v2/ for the challenge, then the login that answers a refresh token. */
  async login() {
    const challenge = await send(this.server, 'GET', '/v2/');
    const header = challenge.headers['www-authenticate'] ?? '';
    if (challenge.status !== 401 || !/^Bearer /i.test(header)) throw new Error(`${this.server.label}: GET /v2/ answered ${challenge.status} without a Bearer challenge (token mode?)`);
    const param = (name) => new RegExp(`${name}="([^"]*)"`, 'i').exec(header)?.[1];
    this.realm = new URL(param('realm'));
    this.service = param('service');
    const url = this.#realmUrl({ service: this.service, account: this.username, client_id: 'pier-bench', offline_token: 'true' });
    const basic = Buffer.from(`${this.username}:${this.password}`).toString('base64');
    const res = await send(this.server, 'GET', url, { headers: { authorization: `Basic ${basic}` } });
    if (res.status !== 200) throw new Error(`${this.server.label}: login at ${this.realm.pathname} answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
    const answer = JSON.parse(res.body.toString('utf8'));
    this.refreshToken = answer.refresh_token;
    if (!this.refreshToken) throw new Error(`${this.server.label}: the login answered no refresh token`);
    this.stats.logins++;
  }

  /** `Bearer <token>` for `repo`, valid for at least `validForSeconds` more (a fresh one when not). */
  async authorization(repo, validForSeconds = 0) {
    let entry = this.tokens.get(repo);
    if (entry instanceof Promise) entry = await entry;
    if (entry && entry.expiresAt - Date.now() < Math.max(entry.margin, validForSeconds * 1000)) {
      this.stats.refreshesBeforeExpiry++;
      entry = undefined;
    }
    if (!entry) {
      const pending = this.#fetch(repo);
      this.tokens.set(repo, pending);
      try {
        entry = await pending;
      } catch (error) {
        this.tokens.delete(repo);
        throw error;
      }
      this.tokens.set(repo, entry);
    }
    return entry.header;
  }

  /** When the token held for `repo` expires (epoch ms), if one is held. */
  expiresAt(repo) {
    const entry = this.tokens.get(repo);
    return entry instanceof Promise ? undefined : entry?.expiresAt;
  }

  /** The registry refused the token (401): the next request fetches another. */
  invalidate(repo) {
    if (this.tokens.delete(repo)) this.stats.refreshesOn401++;
  }

  async #fetch(repo) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.refreshToken, service: this.service, scope: `repository:${repo}:pull,push`, client_id: 'pier-bench' });
    const body = Buffer.from(form.toString());
    const res = await send(this.server, 'POST', this.#realmUrl({}), { headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) }, body });
    if (res.status !== 200) throw new Error(`${this.server.label}: token for ${repo} answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
    const answer = JSON.parse(res.body.toString('utf8'));
    const token = answer.token ?? answer.access_token;
    const granted = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).access ?? [];
    if (!granted.some((a) => a.name === repo && a.actions?.includes('push'))) throw new Error(`${this.server.label}: the token for ${repo} does not grant push: ${JSON.stringify(granted)}`);
    const lifetime = (answer.expires_in ?? 60) * 1000;
    this.stats.tokens++;
    // refreshed when less than a quarter of its life (at most 30 s) is left, as before an expiry mid-request
    return { header: `Bearer ${token}`, expiresAt: Date.now() + lifetime, margin: Math.min(30_000, lifetime / 4) };
  }

  #realmUrl(params) {
    const url = new URL(this.realm.pathname, this.server.url); // the realm's path on the address the bench reaches
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url;
  }
}
