import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sameHash } from '../../auth/secret-token.js';
import { cameOverTls, requestOrigin } from '../forwarded.js';
import type { ApiContext } from './context.js';
import { ApiProblem } from './problem.js';

/**
 * The browser's session: two cookies and the rule that keeps other sites from using them.
 * - `pier_session` holds the session's secret: HttpOnly, so no script reads it.
 * - `pier_csrf` holds a token derived from that secret: readable by the page, which sends it back
 *   in `X-CSRF-Token` on every state-changing request (double submit). Another site can make the
 *   browser send the cookies, but cannot read them, so it cannot send the header.
 * Both are SameSite=Lax (a cross-site POST does not carry them; a same-site one from another port
 * does, which is why the header is still needed), Path=/, and Secure when the client came over TLS.
 * Bearer and Basic callers send neither and are not concerned: a request with an Authorization
 * header is authenticated by it, and its cookies are ignored.
 */
export const SESSION_COOKIE = 'pier_session';
export const CSRF_COOKIE = 'pier_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether a request may change state (the methods CSRF protection is about). */
export function changesState(request: FastifyRequest): boolean {
  return !SAFE_METHODS.has(request.method);
}

/** The request's cookies by name (the first of a name wins, as browsers send the most specific first). */
export function readCookies(request: FastifyRequest): Map<string, string> {
  const cookies = new Map<string, string>();
  const header = request.headers.cookie;
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** The session cookie, when the request is to be authenticated by it (no Authorization header). */
export function sessionCookie(request: FastifyRequest): string | undefined {
  if (request.headers.authorization) return undefined;
  const value = readCookies(request).get(SESSION_COOKIE);
  return value ? value : undefined;
}

/** The CSRF token of a session: derived from its secret, so it needs no storage and fits no other session. */
export function csrfTokenOf(sessionSecret: string): string {
  return createHash('sha256').update(`pier-csrf\0${sessionSecret}`, 'utf8').digest('base64url');
}

/**
 * A state-changing request that carries a foreign `Origin` is refused whoever it is from: browsers
 * send Origin on every cross-origin POST, PUT, PATCH and DELETE. Scripts usually send none. Same
 * origin is the URL the request was sent to (scheme and Host), or the configured public URL.
 */
export function checkOrigin(request: FastifyRequest, ctx: ApiContext): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  const own = requestOrigin(request, ctx.proxies);
  if (origin.toLowerCase() === own || origin === ctx.publicOrigin) return;
  throw new ApiProblem('csrf', `a cross-site request: Origin ${origin.slice(0, 200)} is not this server (${ctx.publicOrigin ?? own ?? 'no Host'})`);
}

/**
 * The check of a state-changing request authenticated by the session cookie: a same-origin Origin
 * when one is sent, and `X-CSRF-Token` equal to the `pier_csrf` cookie and to this session's token.
 */
export function checkCsrf(request: FastifyRequest, ctx: ApiContext, sessionSecret: string): void {
  checkOrigin(request, ctx);
  const header = request.headers[CSRF_HEADER];
  const sent = Array.isArray(header) ? undefined : header;
  if (!sent) {
    throw new ApiProblem('csrf', `a request signed in with the session cookie must send X-CSRF-Token with the value of the ${CSRF_COOKIE} cookie`);
  }
  const cookie = readCookies(request).get(CSRF_COOKIE);
  if (cookie === undefined || !sameHash(sent, cookie) || !sameHash(sent, csrfTokenOf(sessionSecret))) {
    throw new ApiProblem('csrf', `X-CSRF-Token does not match this session's ${CSRF_COOKIE} cookie: reload the page`);
  }
}

/** Sets both cookies of a new session; they last as long as the session can. */
export function setSessionCookies(request: FastifyRequest, reply: FastifyReply, ctx: ApiContext, secret: string, maxAgeSeconds: number): void {
  const secure = cameOverTls(request, ctx.proxies);
  appendSetCookie(reply, [
    cookie(SESSION_COOKIE, secret, { maxAgeSeconds, httpOnly: true, secure }),
    cookie(CSRF_COOKIE, csrfTokenOf(secret), { maxAgeSeconds, httpOnly: false, secure }),
  ]);
}

/** Tells the browser to forget both cookies (signed out, or a session that has ended). */
export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply, ctx: ApiContext): void {
  const secure = cameOverTls(request, ctx.proxies);
  appendSetCookie(reply, [
    cookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, httpOnly: true, secure }),
    cookie(CSRF_COOKIE, '', { maxAgeSeconds: 0, httpOnly: false, secure }),
  ]);
}

function cookie(name: string, value: string, options: { maxAgeSeconds: number; httpOnly: boolean; secure: boolean }): string {
  return [
    `${name}=${value}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'SameSite=Lax',
    ...(options.httpOnly ? ['HttpOnly'] : []),
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

function appendSetCookie(reply: FastifyReply, cookies: string[]): void {
  const existing = reply.getHeader('set-cookie');
  const before = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
  // a later decision about the same cookie replaces the earlier one in this answer
  const names = new Set(cookies.map((c) => c.slice(0, c.indexOf('='))));
  reply.header('set-cookie', [...before.filter((c) => !names.has(c.slice(0, c.indexOf('=')))), ...cookies]);
}

/** Requests whose session cookie did not authenticate (ended, revoked, unknown): their answer clears it. */
const ended = new WeakSet<FastifyRequest>();

export function markEndedSession(request: FastifyRequest): void {
  ended.add(request);
}

export function sessionEnded(request: FastifyRequest): boolean {
  return ended.has(request);
}
