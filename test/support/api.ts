/**
 * Helpers for /api/v1 tests: a token-mode server with a clock the test can move, requests with
 * each kind of credential, and the assertion every API error must pass.
 */
import assert from 'node:assert/strict';
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, problemStatus, type ProblemKind } from '../../src/http/api/problem.js';
import type { Clock } from '../../src/registry/ports.js';
import { startTestServer, type TestBackend, type TestServer } from './server.js';

export interface ApiServer extends TestServer {
  /** moves the server's clock forward */
  advance(ms: number): void;
  api(path: string, init?: ApiRequest): Promise<Response>;
}

export interface ApiRequest {
  method?: string;
  /** sent as JSON */
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** `Bearer <token>` or `Basic base64(user:password)` */
  auth?: { bearer: string } | { basic: [string, string] };
}

/** A token-mode server whose clock the test moves. */
export async function startApiServer(overrides: Record<string, unknown> = {}, options: { backend?: TestBackend } = {}): Promise<ApiServer> {
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset };
  const server = await startTestServer({ 'auth.mode': 'token', ...overrides }, { clock, backend: options.backend });
  const api = (path: string, init: ApiRequest = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(init.json);
    }
    if (init.auth && 'bearer' in init.auth) headers.authorization = `Bearer ${init.auth.bearer}`;
    if (init.auth && 'basic' in init.auth) headers.authorization = `Basic ${Buffer.from(init.auth.basic.join(':')).toString('base64')}`;
    return fetch(`${server.url}/api/v1${path}`, { method: init.method ?? 'GET', headers, body });
  };
  return {
    ...server,
    api,
    advance: (ms) => {
      offset += ms;
    },
  };
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

/** Asserts an RFC 9457 problem with this status (and kind, when given: `not-found`, `plan-limit`, ...); returns it. */
export async function expectProblem(res: Response, status: number, detail?: RegExp, kind?: ProblemKind): Promise<Problem> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(text) as Problem;
  assert.deepEqual(Object.keys(problem).filter((key) => key !== 'errors').sort(), ['detail', 'status', 'title', 'type']);
  assert.equal(problem.status, status);
  // a stable type per kind of error, whose status is the answer's
  assert.ok(problem.type.startsWith(PROBLEM_TYPE_BASE), problem.type);
  const found = problem.type.slice(PROBLEM_TYPE_BASE.length) as ProblemKind;
  assert.ok(PROBLEM_KINDS.includes(found), `unknown problem type ${problem.type}`);
  assert.equal(problemStatus(found), status, `${problem.type} with status ${status}`);
  if (kind) assert.equal(found, kind, text);
  assert.equal(typeof problem.title, 'string');
  if (problem.errors !== undefined) {
    assert.equal(found, 'validation', 'errors only on validation problems');
    for (const error of problem.errors) assert.deepEqual(Object.keys(error).sort(), ['field', 'message']);
  }
  if (detail) assert.match(problem.detail, detail);
  return problem;
}

export async function expectJson<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return JSON.parse(text) as T;
}

export const PASSWORD = 'correct horse battery';

/** Creates an account directly in the hub (faster than the API, which has its own tests). */
export async function createUser(server: TestServer, name: string, options: { admin?: boolean; password?: string } = {}): Promise<void> {
  await server.hub.accounts.create({ name, password: options.password ?? PASSWORD, admin: options.admin });
}

export async function signIn(server: ApiServer, name: string, password = PASSWORD): Promise<string> {
  const res = await server.api('/users/login', { method: 'POST', json: { username: name, password } });
  return (await expectJson<{ token: string }>(res, 200)).token;
}
