/**
 * Helpers for token-auth tests: a settable clock, Basic credentials, /token requests and challenge
 * parsing. Pushes with a token: `pushImage(url, repo, tag, { token })` (images.ts).
 */
import assert from 'node:assert/strict';

export class TestClock {
  constructor(public t = Date.parse('2030-01-01T00:00:00Z')) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Login {
  username: string;
  secret: string;
}

export function basic(login: Login): string {
  return `Basic ${Buffer.from(`${login.username}:${login.secret}`).toString('base64')}`;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export interface TokenResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function readToken(res: Response): Promise<TokenResponse> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // left empty: the test asserts on the status
  }
  return { status: res.status, headers: res.headers, body, text };
}

export interface TokenGetOptions {
  login?: Login;
  scopes?: string[];
  service?: string;
  offline?: boolean;
  account?: string;
  clientId?: string;
  headers?: Record<string, string>;
}

/** GET /token as docker does it. */
export async function tokenGet(base: string, options: TokenGetOptions = {}): Promise<TokenResponse> {
  const query = new URLSearchParams();
  query.set('service', options.service ?? 'pier');
  for (const scope of options.scopes ?? []) query.append('scope', scope);
  if (options.offline) query.set('offline_token', 'true');
  if (options.account) query.set('account', options.account);
  if (options.clientId) query.set('client_id', options.clientId);
  const headers: Record<string, string> = { ...options.headers };
  if (options.login) headers.authorization = basic(options.login);
  return readToken(await fetch(`${base}/token?${query}`, { headers }));
}

/** POST /token, the OAuth2 form (containerd, docker with an identity token). */
export async function tokenPost(base: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenResponse> {
  return readToken(
    await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ service: 'pier', client_id: 'pier-tests', ...form }).toString(),
    }),
  );
}

/** A token for `scopes`, or a failed assertion. */
export async function tokenFor(base: string, login: Login | undefined, scopes: string[]): Promise<string> {
  const res = await tokenGet(base, { login, scopes });
  assert.equal(res.status, 200, res.text);
  return res.body.token as string;
}

/** The payload of a JWT, unverified (the server verifies). */
export function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  assert.ok(part, 'a JWT has three parts');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** `Bearer realm="...",service="...",scope="..."` -> its scheme and parameters. */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } {
  assert.ok(header, 'a WWW-Authenticate header');
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space);
  const params: Record<string, string> = {};
  for (const match of header.slice(space + 1).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) params[match[1]!] = match[2]!.replace(/\\(.)/g, '$1');
  return { scheme, params };
}
