/**
 * A browser, as far as Pier's cookie sessions are concerned: a cookie jar for one server that
 * signs in with POST /api/v1/sessions, sends its cookies with every request, and (like the web UI)
 * sends the pier_csrf cookie back as X-CSRF-Token on state-changing requests unless told not to.
 */
import assert from 'node:assert/strict';
import { PASSWORD } from './api.js';

export interface SetCookie {
  name: string;
  value: string;
  /** attributes by lower-case name (`httponly`, `samesite`, `max-age`, ...); flags map to '' */
  attributes: Map<string, string>;
}

/** One Set-Cookie header, parsed. */
export function parseSetCookie(header: string): SetCookie {
  const [pair, ...rest] = header.split(';');
  const eq = pair!.indexOf('=');
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const [name, ...value] = part.trim().split('=');
    attributes.set(name!.toLowerCase(), value.join('='));
  }
  return { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim(), attributes };
}

export function setCookies(res: Response): SetCookie[] {
  return res.headers.getSetCookie().map(parseSetCookie);
}

export interface BrowserRequest {
  method?: string;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** send X-CSRF-Token from the pier_csrf cookie (default: on state-changing requests); a string sends that value */
  csrf?: boolean | string;
  /** the Origin header: the server's own by default on state-changing requests (as browsers send it); null sends none */
  origin?: string | null;
}

export class CookieBrowser {
  readonly cookies = new Map<string, string>();

  constructor(
    /** the server's base URL (`http://127.0.0.1:PORT`) */
    readonly url: string,
    readonly userAgent = 'Mozilla/5.0 (X11; Linux x86_64) PierTest/1.0',
  ) {}

  /** POST /sessions; asserts 201 and returns the answer's body. */
  async signIn(username: string, password = PASSWORD): Promise<{ username: string; csrf_token: string; expires_at: string }> {
    const res = await this.fetch('/api/v1/sessions', { method: 'POST', json: { username, password } });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    return JSON.parse(text) as { username: string; csrf_token: string; expires_at: string };
  }

  /** A request under /api/v1. */
  api(path: string, init: BrowserRequest = {}): Promise<Response> {
    return this.fetch(`/api/v1${path}`, init);
  }

  async fetch(path: string, init: BrowserRequest = {}): Promise<Response> {
    const method = init.method ?? 'GET';
    const writes = !['GET', 'HEAD'].includes(method);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(init.json);
    }
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (cookie) headers.cookie = cookie;
    const csrf = init.csrf ?? writes;
    if (typeof csrf === 'string') headers['x-csrf-token'] = csrf;
    else if (csrf && this.cookies.has('pier_csrf')) headers['x-csrf-token'] = this.cookies.get('pier_csrf')!;
    const origin = init.origin === undefined ? (writes ? new URL(this.url).origin : null) : init.origin;
    if (origin !== null) headers.origin = origin;
    const res = await fetch(`${this.url}${path}`, { method, headers, body });
    for (const set of setCookies(res)) {
      if (set.attributes.get('max-age') === '0' || set.value === '') this.cookies.delete(set.name);
      else this.cookies.set(set.name, set.value);
    }
    return res;
  }
}
