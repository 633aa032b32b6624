import { z } from 'zod';
import { secretKind } from '../../auth/secret-token.js';
import { SESSION_IDLE_MS, SESSION_LIFETIME_MS } from '../../hub/browser-sessions.js';
import { checkPassword } from './authenticate.js';
import { iso } from './body.js';
import type { ApiContext } from './context.js';
import { forbidden, notFound } from './problem.js';
import type { ApiRouter } from './route.js';
import { listOf, OptionalTimestamp, Timestamp } from './schemas.js';
import { clearSessionCookies, csrfTokenOf, readCookies, SESSION_COOKIE, setSessionCookies } from './session-cookie.js';

const SignIn = z.strictObject({ username: z.string(), password: z.string() });

const SessionStarted = z
  .object({
    username: z.string(),
    csrf_token: z.string().meta({ description: 'the value of the pier_csrf cookie: send it as X-CSRF-Token on every POST, PUT, PATCH and DELETE' }),
    expires_at: Timestamp.meta({ description: `when the session ends at the latest; unused for ${SESSION_IDLE_MS / 3_600_000} hours, it ends sooner` }),
  })
  .meta({ id: 'BrowserSession' });

const Session = z
  .object({
    id: z.string(),
    kind: z.enum(['browser', 'docker']).meta({ description: 'browser: a sign-in of the web UI (cookie); docker: a docker login (its identity token)' }),
    user_agent: z.string().nullable().meta({ description: 'the browser that signed in' }),
    client_id: z.string().nullable().meta({ description: 'the client a docker login named' }),
    created_at: Timestamp,
    last_used_at: OptionalTimestamp,
    expires_at: OptionalTimestamp.meta({ description: 'the latest a browser session lasts; null for docker logins' }),
    current: z.boolean().meta({ description: 'the session of this request' }),
  })
  .meta({ id: 'Session' });

const SessionId = z.object({ id: z.string() });

/**
 * Sessions: the web UI's sign-in with a cookie (POST /sessions, DELETE /sessions/current), and the
 * account's list of everything signed in as it, browsers and docker logins, each revocable.
 */
export function registerSessions(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'POST',
    path: '/sessions',
    summary: 'Sign in a browser',
    description:
      'Sets the session cookie `pier_session` (HttpOnly) and `pier_csrf`, whose value every later POST, PUT, PATCH and DELETE ' +
      'sends back as `X-CSRF-Token`. Both are SameSite=Lax, and Secure over TLS. Failed attempts are throttled like every password check. ' +
      'Scripts use POST /users/login or a personal access token instead.',
    tags: ['sessions'],
    auth: 'public',
    csrf: 'origin',
    body: SignIn,
    responses: { 201: SessionStarted },
    problems: ['forbidden', 'unauthorized', 'too-many-requests', 'csrf'],
    handler: async ({ request, reply, body }) => {
      if (secretKind(body.password) === 'pat') {
        throw forbidden('a personal access token does not sign in a browser: sign in with the password');
      }
      const { account } = await checkPassword(request, ctx, body.username, body.password);
      // the session this browser had (if any) is replaced: end it rather than leave it behind
      const previous = readCookies(request).get(SESSION_COOKIE);
      if (previous) await hub.browserSessions.end(previous);
      const { secret, session } = await hub.browserSessions.start(account, request.headers['user-agent']);
      setSessionCookies(request, reply, ctx, secret, SESSION_LIFETIME_MS / 1000);
      request.log.info({ account: account.name, session: session.id }, 'browser signed in');
      return { username: account.name, csrf_token: csrfTokenOf(secret), expires_at: iso(session.expiresAt)! };
    },
  });

  router.route({
    method: 'DELETE',
    path: '/sessions/current',
    summary: 'Sign out this browser',
    description: 'Ends the session of the cookie and clears both cookies. Signing out twice, or without a session, is not an error.',
    tags: ['sessions'],
    auth: 'public',
    responses: { 204: null },
    handler: async ({ request, reply }) => {
      const secret = readCookies(request).get(SESSION_COOKIE);
      if (secret && !request.headers.authorization) await hub.browserSessions.end(secret);
      clearSessionCookies(request, reply, ctx);
    },
  });

  router.route({
    method: 'GET',
    path: '/users/me/sessions',
    summary: 'List where the caller is signed in',
    description: 'Browser sessions and docker logins that have not ended, oldest first.',
    tags: ['sessions'],
    auth: 'account',
    responses: { 200: listOf(Session) },
    handler: async ({ caller }) => {
      const browsers = (await hub.browserSessions.list(caller.account)).map((s) => ({
        id: s.id,
        kind: 'browser' as const,
        user_agent: s.userAgent,
        client_id: null,
        created_at: iso(s.createdAt)!,
        last_used_at: iso(s.lastUsedAt),
        expires_at: iso(s.expiresAt),
        current: s.id === caller.sessionId,
        at: s.createdAt,
      }));
      // docker logins begun before the last password change no longer work: not listed
      const dockers = (await hub.tokens.listRefreshTokens(caller.account.name))
        .filter((s) => s.createdAt >= caller.account.passwordChangedAt)
        .map((s) => ({
          id: s.id,
          kind: 'docker' as const,
          user_agent: null,
          client_id: s.clientId,
          created_at: iso(s.createdAt)!,
          last_used_at: iso(s.lastUsedAt),
          expires_at: null,
          current: false,
          at: s.createdAt,
        }));
      const results = [...browsers, ...dockers].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map(({ at: _at, ...session }) => session);
      return { results, count: results.length };
    },
  });

  router.route({
    method: 'DELETE',
    path: '/users/me/sessions/{id}',
    summary: 'End a session',
    description: 'A browser is signed out at its next request; a docker login can no longer get tokens. Ending the current session clears its cookies.',
    tags: ['sessions'],
    auth: 'account',
    params: SessionId,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ request, reply, caller, params }) => {
      const name = caller.account.name;
      if (await hub.browserSessions.revoke(name, params.id)) {
        if (params.id === caller.sessionId) clearSessionCookies(request, reply, ctx);
        request.log.info({ account: name, session: params.id }, 'browser session ended');
        return;
      }
      if (!(await hub.tokens.revokeRefreshToken(name, params.id))) throw notFound('no such session');
    },
  });
}
