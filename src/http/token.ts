import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Subject } from '../auth/access-policy.js';
import { attemptLogin } from '../auth/login-throttle.js';
import { parseScopes, scopeKey, type Scope } from '../auth/scope.js';
import { secretKind } from '../auth/secret-token.js';
import { HubError } from '../hub/errors.js';
import { isValidRepositoryName, normalizeRepositoryName } from '../oci/names.js';
import type { TokenAuth } from './token-auth.js';
import { noteRefusal } from './refusals.js';
import { requestOrigin } from './request-origin.js';

/**
 * Docker's token endpoint (distribution's docs/content/spec/auth/): GET with Basic credentials and
 * the OAuth2 POST form. It answers a short-lived JWT granting the intersection of what was asked
 * and what the subject may do (never an error), and on request a refresh token, which is what
 * `docker login` stores as its identity token.
 */

/** The access-token claim that marks an administrator, so /v2 keeps its pulls free of queries. */
export const ADMIN_CLAIM = 'pier_admin';
/** The access-token claim listing the only repositories an organisation access token reaches. */
export const REPOSITORIES_CLAIM = 'pier_repositories';

const FORM_BODY_LIMIT = 64 * 1024;
/** Scopes honoured per request: each costs a query or two. */
const MAX_SCOPES = 64;
/** The one message of a failed login, whatever was wrong (unknown user, password, token). */
const WRONG_CREDENTIALS = 'incorrect username, password or token';

export function registerToken(app: FastifyInstance, auth: TokenAuth): void {
  // Encapsulated: the form parser exists for /token only; /v2 bodies keep streaming untouched.
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    scope.setErrorHandler((error, request, reply) => {
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) {
        request.log.error({ err: error }, 'token request failed');
        return sendError(reply, new TokenError(500, 'UNKNOWN', 'internal error'));
      }
      return sendError(reply, new TokenError(status, 'UNSUPPORTED', (error as Error).message, 'invalid_request'));
    });

    scope.get('/token', (request, reply) => handle(reply, () => tokenGet(auth, request)));
    scope.post('/token', (request, reply) => handle(reply, () => tokenPost(auth, request)));
    scope.get('/token/jwks', async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=60').header('content-type', 'application/json').send(auth.keyRing.jwks()),
    );
  });
}

/** A /token failure: distribution's envelope, `details` (docker shows it), and OAuth2's fields on POST. */
class TokenError extends Error {
  /** a refusal a plan decided (the refusals metric tells it from a permission) */
  byPlan = false;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly oauth?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface TokenAnswer {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

async function handle(reply: FastifyReply, work: () => Promise<TokenAnswer>): Promise<void> {
  try {
    const answer = await work();
    await reply.code(200).headers({ 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': 'application/json' }).send(answer);
  } catch (error) {
    if (error instanceof TokenError) return void (await sendError(reply, error));
    throw error;
  }
}

function sendError(reply: FastifyReply, error: TokenError): FastifyReply {
  if (error.byPlan) noteRefusal(reply.request, 'plan');
  const body: Record<string, unknown> = { errors: [{ code: error.code, message: error.message }], details: error.message };
  if (error.oauth) Object.assign(body, { error: error.oauth, error_description: error.message });
  return reply
    .code(error.status)
    .headers({ ...error.headers, 'cache-control': 'no-store', 'content-type': 'application/json' })
    .send(body);
}

// ---- the two request forms ---------------------------------------------------------------------

interface TokenRequest {
  /** username + password, personal access token or refresh token (GET Basic, POST password grant) */
  login?: { username: string; secret: string };
  /** POST refresh_token grant */
  refreshToken?: string;
  scopes: string[];
  service?: string;
  offline: boolean;
  clientId?: string;
  /** how a wrong credential is answered: GET asks for Basic credentials again */
  challenge: boolean;
}

async function tokenGet(auth: TokenAuth, request: FastifyRequest): Promise<TokenAnswer> {
  const query = request.query as Record<string, string | string[] | undefined>;
  const login = basicCredentials(request.headers.authorization);
  // a malformed Basic header is a wrong credential, not an anonymous request
  if (login === null) throw wrongCredentials(true);
  return issue(auth, request, {
    login,
    scopes: all(query.scope),
    service: first(query.service),
    offline: first(query.offline_token) === 'true',
    clientId: first(query.client_id),
    challenge: true,
  });
}

async function tokenPost(auth: TokenAuth, request: FastifyRequest): Promise<TokenAnswer> {
  const form = request.body;
  if (!(form instanceof URLSearchParams)) {
    throw new TokenError(400, 'UNSUPPORTED', 'the token request must be a form (application/x-www-form-urlencoded)', 'invalid_request');
  }
  const base = {
    scopes: form.getAll('scope'),
    service: form.get('service') ?? undefined,
    offline: form.get('access_type') === 'offline',
    clientId: form.get('client_id') ?? undefined,
    challenge: false,
  };
  const grant = form.get('grant_type');
  if (grant === 'password') {
    const username = form.get('username');
    const password = form.get('password');
    if (!username || !password) throw new TokenError(400, 'UNSUPPORTED', 'grant_type=password needs username and password', 'invalid_request');
    return issue(auth, request, { ...base, login: { username, secret: password } });
  }
  if (grant === 'refresh_token') {
    const refreshToken = form.get('refresh_token');
    if (!refreshToken) throw new TokenError(400, 'UNSUPPORTED', 'grant_type=refresh_token needs refresh_token', 'invalid_request');
    return issue(auth, request, { ...base, refreshToken });
  }
  throw new TokenError(400, 'UNSUPPORTED', 'grant_type must be password or refresh_token', 'unsupported_grant_type');
}

// ---- issuing ---------------------------------------------------------------------------------

interface Authenticated {
  subject: Extract<Subject, { kind: 'account' }>;
  /** the refresh token the request came with, handed back unchanged when asked (never rotated) */
  refreshToken?: string;
  /** a password login may open a session; a PAT must not (a refresh token would drop its scopes) */
  mayOpenSession: boolean;
}

async function issue(auth: TokenAuth, request: FastifyRequest, input: TokenRequest): Promise<TokenAnswer> {
  if (input.service !== undefined && input.service !== '' && input.service !== auth.service) {
    throw new TokenError(400, 'UNSUPPORTED', `this registry's service is "${auth.service}", not "${input.service.slice(0, 200)}"`, 'invalid_request');
  }
  let who: Authenticated | undefined;
  if (input.login) {
    try {
      who = await logIn(auth, request, input.login, input.challenge);
    } catch (error) {
      await auditLogin(auth, request, input.login.username, error instanceof TokenError && error.status === 429 ? 'refused' : 'failed');
      throw error;
    }
    // clients send their credentials with every token request: a sign-in is one that asks for a refresh token (docker login)
    if (input.offline) await auditLogin(auth, request, who.subject.name, 'ok', viaOf(input.login.secret));
  } else if (input.refreshToken !== undefined) {
    const account = secretKind(input.refreshToken) === 'refresh' ? await auth.hub.tokens.authenticateRefreshToken(input.refreshToken) : undefined;
    if (!account) throw wrongCredentials(input.challenge);
    who = { subject: { kind: 'account', name: account.name, admin: account.admin }, refreshToken: input.refreshToken, mayOpenSession: false };
  }
  const subject: Subject = who?.subject ?? { kind: 'anonymous' };
  const requested = requestedScopes(input.scopes, publicHost(auth.realm));
  const access = requested.length === 0 ? [] : await auth.policy.grant(subject, requested);

  const sub = subject.kind === 'account' ? subject.name : '';
  const claims: Record<string, unknown> = { access };
  if (subject.kind === 'account' && subject.admin) claims[ADMIN_CLAIM] = true;
  // an organisation token's `sub` is the organisation: /v2 must not take it for the owner beyond these
  if (subject.kind === 'account' && subject.tokenRepositories) claims[REPOSITORIES_CLAIM] = subject.tokenRepositories;
  const token = await auth.keyRing.sign(claims, { expiresInSeconds: auth.tokenTtlSeconds, issuer: auth.issuer, audience: auth.service, subject: sub });
  const answer: TokenAnswer = {
    token,
    access_token: token,
    expires_in: auth.tokenTtlSeconds,
    issued_at: new Date(auth.clock.now()).toISOString(),
  };
  if (input.offline && who) {
    if (who.refreshToken !== undefined) answer.refresh_token = who.refreshToken;
    else if (who.mayOpenSession) answer.refresh_token = await auth.hub.tokens.createRefreshToken(who.subject.name, input.clientId);
  }
  return answer;
}

/** A sign-in at /token in the audit log (a failure to write it is logged, never the sign-in's failure). */
async function auditLogin(auth: TokenAuth, request: FastifyRequest, username: string, result: 'ok' | 'failed' | 'refused', via?: string): Promise<void> {
  const name = username.toLowerCase();
  try {
    await auth.hub.audit.record({
      action: 'login',
      actor: name || null,
      via: via ?? null,
      target: name || null,
      namespace: name || null,
      result,
      ...requestOrigin(request),
      details: { endpoint: 'token' },
    });
  } catch (error) {
    request.log.error({ err: error }, 'could not write the audit entry');
  }
}

function viaOf(secret: string): string {
  const kind = secretKind(secret);
  return kind === 'pat' ? 'pat' : kind === 'refresh' ? 'refresh' : 'password';
}

/**
 * Checks Basic credentials, throttled per account and client address: the attempt is counted
 * before the check (attemptLogin), so parallel guesses cannot outrun the throttle. Tokens (PAT,
 * refresh) are found by their SHA-256, so clients that send credentials with every token request
 * stay cheap.
 */
async function logIn(auth: TokenAuth, request: FastifyRequest, login: { username: string; secret: string }, challenge: boolean): Promise<Authenticated> {
  const username = login.username.toLowerCase();
  const address = request.ip;
  let attempt;
  try {
    attempt = await attemptLogin(auth.throttle, username, address, () => verify(auth, username, login.secret));
  } catch (error) {
    // a right credential that may not be used now (an organisation token its plan no longer includes): say why
    if (error instanceof HubError && (error.kind === 'plan_limit' || error.kind === 'forbidden')) {
      const refusal = new TokenError(403, 'DENIED', error.message, 'invalid_grant');
      refusal.byPlan = error.kind === 'plan_limit';
      throw refusal;
    }
    throw error;
  }
  if (attempt.outcome === 'refused') {
    const seconds = attempt.retryAfterSeconds;
    throw new TokenError(429, 'TOOMANYREQUESTS', `too many failed logins; try again in ${seconds} seconds`, 'invalid_request', { 'retry-after': String(seconds) });
  }
  if (attempt.outcome === 'wrong') throw wrongCredentials(challenge);
  return attempt.value;
}

async function verify(auth: TokenAuth, username: string, secret: string): Promise<Authenticated | undefined> {
  const kind = secretKind(secret);
  if (kind === 'pat') {
    const found = await auth.hub.tokens.authenticatePersonalAccessToken(secret);
    if (!found || found.account.name !== username) return undefined;
    const { account, scopes, repositories } = found;
    // an organisation token acts as the organisation, on its listed repositories only
    const limit = repositories ? { tokenRepositories: repositories } : {};
    return { subject: { kind: 'account', name: account.name, admin: account.admin, tokenScopes: scopes, ...limit }, mayOpenSession: false };
  }
  if (kind === 'refresh') {
    const account = await auth.hub.tokens.authenticateRefreshToken(secret);
    // docker and some clients send an identity token with a placeholder user name
    if (!account || (username !== '' && username !== '<token>' && account.name !== username)) return undefined;
    return { subject: { kind: 'account', name: account.name, admin: account.admin }, refreshToken: secret, mayOpenSession: false };
  }
  const account = await auth.hub.accounts.authenticate(username, secret);
  return account && { subject: { kind: 'account', name: account.name, admin: account.admin }, mayOpenSession: true };
}

function wrongCredentials(challenge: boolean): TokenError {
  return new TokenError(401, 'UNAUTHORIZED', WRONG_CREDENTIALS, 'invalid_grant', challenge ? { 'www-authenticate': 'Basic realm="pier"' } : {});
}

/**
 * Scope names as /v2 sees them: `nginx` is `library/nginx`; a name that starts with this
 * registry's own host (`localhost:5000/alice/app`) loses it; invalid names and resource types
 * other than repositories and the catalog are dropped. Never an error.
 */
export function requestedScopes(values: string[], ownHost: string | undefined): Scope[] {
  const byKey = new Map<string, Scope>();
  for (const scope of parseScopes(values)) {
    let name = scope.name;
    if (scope.type === 'registry') {
      if (name !== 'catalog') continue;
    } else {
      const slash = name.indexOf('/');
      if (ownHost && slash > 0 && name.slice(0, slash).toLowerCase() === ownHost) name = name.slice(slash + 1);
      if (!isValidRepositoryName(name)) continue;
      try {
        name = normalizeRepositoryName(name);
      } catch {
        continue;
      }
    }
    const key = scopeKey(scope.type, name);
    const seen = byKey.get(key);
    if (seen) {
      for (const action of scope.actions) if (!seen.actions.includes(action)) seen.actions.push(action);
    } else {
      if (byKey.size >= MAX_SCOPES) continue;
      byKey.set(key, { type: scope.type, name, actions: [...scope.actions] });
    }
  }
  return [...byKey.values()];
}

/** `host[:port]` of the token realm: the registry's public address. */
function publicHost(realm: string): string | undefined {
  try {
    return new URL(realm).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Basic credentials; undefined without an Authorization header (or another scheme), null when malformed. */
function basicCredentials(header: string | undefined): { username: string; secret: string } | null | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  if ((space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase() !== 'basic') return undefined;
  if (space === -1) return null;
  const decoded = Buffer.from(trimmed.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  const username = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  if (secret === '') return null;
  return { username, secret };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function all(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
