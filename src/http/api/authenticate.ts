import type { FastifyRequest } from 'fastify';
import type { Subject, TokenScope } from '../../auth/access-policy.js';
import { attemptLogin } from '../../auth/login-throttle.js';
import { secretKind } from '../../auth/secret-token.js';
import type { Account } from '../../hub/accounts.js';
import type { ApiContext } from './context.js';
import { ApiProblem, forbidden, tooManyRequests } from './problem.js';
import { changesState, checkCsrf, markEndedSession, sessionCookie, sessionEnded } from './session-cookie.js';

/**
 * Who calls the API, and how they proved it:
 * - `password`: Basic credentials with the account's password;
 * - `session`: `Bearer <jwt>` from POST /api/v1/users/login;
 * - `browser`: the `pier_session` cookie from POST /api/v1/sessions (the web UI);
 * - `pat`: a personal access token, as the password of Basic credentials or as a Bearer token.
 * The account is read per request, so a deleted account or a changed admin flag counts at once.
 */
export interface Caller {
  account: Account;
  via: 'password' | 'session' | 'browser' | 'pat';
  /** the browser session's id, when `via` is `browser` */
  sessionId?: string;
  /** the scopes of the personal access token, when `via` is `pat` */
  tokenScopes?: readonly TokenScope[];
  /** an organisation access token's repositories, when it lists them (`account` is the organisation) */
  tokenRepositories?: readonly string[];
}

/** The AccessPolicy's view of a caller (anonymous when there is none). */
export function subjectOf(caller: Caller | undefined): Subject {
  if (!caller) return { kind: 'anonymous' };
  return {
    kind: 'account',
    name: caller.account.name,
    admin: caller.account.admin,
    ...(caller.tokenScopes ? { tokenScopes: caller.tokenScopes } : {}),
    ...(caller.tokenRepositories ? { tokenRepositories: caller.tokenRepositories } : {}),
  };
}

/** Session tokens of POST /users/login (for scripts) live this long; then the script signs in again. */
export const SESSION_TTL_SECONDS = 3600;

/** The audience of API session tokens: distinct from the registry's, so neither kind of JWT works as the other. */
export function sessionAudience(service: string): string {
  return `${service}/api`;
}

const WRONG_CREDENTIALS = 'incorrect username or password';

export function unauthorized(ctx: ApiContext, detail: string, invalidToken = false): ApiProblem {
  const challenge = ctx.auth
    ? `Bearer realm="${ctx.auth.service}"${invalidToken ? ', error="invalid_token"' : ''}`
    : 'Basic realm="pier", charset="UTF-8"';
  return new ApiProblem('unauthorized', detail, { headers: { 'www-authenticate': challenge } });
}

/**
 * The caller, or undefined for an anonymous request. Bad credentials are a 401, never anonymous;
 * a session cookie that has ended counts as none (a browser keeps it until told to forget it,
 * which the answer does), so public pages stay readable after a session ends.
 */
export async function authenticate(request: FastifyRequest, ctx: ApiContext): Promise<Caller | undefined> {
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
    const secret = sessionCookie(request);
    return secret === undefined ? undefined : checkBrowserSession(request, ctx, secret);
  }
  const space = header.indexOf(' ');
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? '' : header.slice(space + 1).trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw unauthorized(ctx, 'malformed Basic credentials: expected base64 of username:password');
    return checkPassword(request, ctx, decoded.slice(0, colon), decoded.slice(colon + 1));
  }
  if (scheme === 'bearer') {
    if (secretKind(value) === 'pat') return checkToken(ctx, value, undefined);
    return checkSession(ctx, value);
  }
  throw unauthorized(ctx, 'unsupported authorization scheme: use Bearer or Basic');
}

export async function requireCaller(request: FastifyRequest, ctx: ApiContext): Promise<Caller> {
  const caller = await authenticate(request, ctx);
  if (!caller) throw unauthorized(ctx, sessionEnded(request) ? 'the session has ended: sign in again' : 'sign in to do this');
  return caller;
}

/**
 * The caller of a session cookie. A state-changing request must also prove it comes from Pier's
 * own pages (checkCsrf): the router checks it before the body is read, and it is checked here
 * again so that no path to the cookie skips it.
 */
async function checkBrowserSession(request: FastifyRequest, ctx: ApiContext, secret: string): Promise<Caller | undefined> {
  if (changesState(request)) checkCsrf(request, ctx, secret);
  const found = await ctx.hub.browserSessions.authenticate(secret);
  if (!found) {
    markEndedSession(request);
    return undefined;
  }
  return { account: found.account, via: 'browser', sessionId: found.session.id };
}

/**
 * Managing an account (its password, tokens, sessions, deletion, settings) needs the password or
 * a session signed in with it: a leaked CI token must not be able to mint more tokens or lock
 * its owner out.
 */
export async function requireAccountCaller(request: FastifyRequest, ctx: ApiContext): Promise<Caller> {
  const caller = await requireCaller(request, ctx);
  if (caller.via === 'pat') throw forbidden('a personal access token cannot manage the account: use the password, or sign in');
  return caller;
}

export async function requireAdmin(request: FastifyRequest, ctx: ApiContext): Promise<Caller> {
  const caller = await requireAccountCaller(request, ctx);
  if (!caller.account.admin) throw forbidden('only an administrator may do this');
  return caller;
}

/**
 * Checks a password (or a personal access token given as the password) of `username`, throttled
 * per account and client address. Used by Basic credentials, sign-in and re-confirmation. The
 * attempt is counted before the check (attemptLogin), so parallel guesses cannot outrun the throttle.
 */
export async function checkPassword(request: FastifyRequest, ctx: ApiContext, username: string, password: string): Promise<Caller> {
  const login = await attemptLogin(ctx.throttle, username, request.ip, async (): Promise<Caller | undefined> => {
    if (secretKind(password) === 'pat') {
      return checkToken(ctx, password, username).catch((error: unknown) => {
        if (error instanceof ApiProblem) return undefined;
        throw error;
      });
    }
    const account = await ctx.hub.accounts.authenticate(username, password);
    return account ? { account, via: 'password' } : undefined;
  });
  if (login.outcome === 'refused') throw tooManyRequests(login.retryAfterSeconds);
  if (login.outcome === 'wrong') throw unauthorized(ctx, WRONG_CREDENTIALS);
  return login.value;
}

async function checkToken(ctx: ApiContext, secret: string, username: string | undefined): Promise<Caller> {
  const found = await ctx.hub.tokens.authenticatePersonalAccessToken(secret);
  // the username sent with a token must be its owner's (docker login sends both)
  if (!found || (username !== undefined && found.account.name !== username)) {
    throw unauthorized(ctx, username === undefined ? 'the token is not valid (unknown, revoked or expired)' : WRONG_CREDENTIALS, true);
  }
  return { account: found.account, via: 'pat', tokenScopes: found.scopes, ...(found.repositories ? { tokenRepositories: found.repositories } : {}) };
}

async function checkSession(ctx: ApiContext, token: string): Promise<Caller> {
  const auth = ctx.auth;
  if (!auth) throw unauthorized(ctx, 'this server runs without session tokens (PIER_AUTH=open): send Basic credentials');
  let subject: string | undefined;
  let passwordChangedAt: unknown;
  try {
    const payload = await auth.keyRing.verify(token, { issuer: auth.issuer, audience: sessionAudience(auth.service) });
    subject = payload.sub;
    passwordChangedAt = payload.pwd;
  } catch {
    throw unauthorized(ctx, 'the session token is not valid or has expired: sign in again', true);
  }
  const account = subject === undefined ? undefined : await ctx.hub.accounts.get(subject);
  // a password change ends every session begun before it
  if (!account || passwordChangedAt !== account.passwordChangedAt) {
    throw unauthorized(ctx, 'the session has ended: sign in again', true);
  }
  return { account, via: 'session' };
}

/** A session token for `account`: a short-lived JWT bound to its current password. */
export async function issueSession(ctx: ApiContext, account: Account): Promise<{ token: string; expires_in: number }> {
  const auth = ctx.auth!;
  const token = await auth.keyRing.sign(
    { pwd: account.passwordChangedAt },
    { expiresInSeconds: SESSION_TTL_SECONDS, issuer: auth.issuer, audience: sessionAudience(auth.service), subject: account.name },
  );
  return { token, expires_in: SESSION_TTL_SECONDS };
}
