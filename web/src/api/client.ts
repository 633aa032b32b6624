// The one way the UI talks to Pier: JSON over /api/v1 with the cookie session. Every failure
// becomes an ApiError that carries the server's problem+json (RFC 9457), so that a page can say
// in plain words what went wrong, where it happened.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
  }
  get status(): number {
    return this.problem.status;
  }
  /** the last segment of the problem's type URI: `validation`, `plan-limit`, `csrf`, ... (or `status-404` when untyped) */
  get kind(): string {
    const type = this.problem.type;
    if (type && type !== 'about:blank') return type.slice(type.lastIndexOf('/') + 1);
    return `status-${this.problem.status}`;
  }
  /** the message of a validation error about one field, if any */
  fieldError(field: string): string | undefined {
    return this.problem.errors?.find((e) => e.field === field)?.message;
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  json?: unknown;
  signal?: AbortSignal;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The double-submit CSRF token: the `pier_csrf` cookie, readable by this page only (same origin). */
export function csrfToken(cookies: string): string | undefined {
  for (const part of cookies.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === 'pier_csrf') return decodeURIComponent(value.join('='));
  }
  return undefined;
}

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Builds the client over a fetch and a cookie reader, so that tests can drive it against a real
 * server from Node. In the browser: `createClient(fetch, () => document.cookie)`.
 */
export function createClient(fetcher: Fetch, cookies: () => string, base = '/api/v1') {
  return async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const method = options.method ?? 'GET';
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (UNSAFE.has(method)) {
      const token = csrfToken(cookies());
      if (token) headers['x-csrf-token'] = token;
    }
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    let response: Response;
    try {
      response = await fetcher(`${base}${path}`, { method, headers, body, credentials: 'same-origin', signal: options.signal });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError({ type: 'network', title: 'Network error', status: 0, detail: 'the server could not be reached' });
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    if (!response.ok) throw new ApiError(problemOf(response.status, type, text));
    if (!type.includes('json')) {
      throw new ApiError({ type: 'unexpected', title: 'Unexpected answer', status: response.status, detail: 'the server did not answer with JSON' });
    }
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

function problemOf(status: number, type: string, text: string): Problem {
  if (type.includes('json')) {
    try {
      const parsed = JSON.parse(text) as Partial<Problem>;
      return {
        type: typeof parsed.type === 'string' ? parsed.type : 'about:blank',
        title: typeof parsed.title === 'string' ? parsed.title : '',
        status,
        detail: typeof parsed.detail === 'string' ? parsed.detail : '',
        ...(Array.isArray(parsed.errors) ? { errors: parsed.errors } : {}),
      };
    } catch {
      // not the problem it claims to be: fall through to the status alone
    }
  }
  return { type: 'about:blank', title: '', status, detail: '' };
}

export type Client = ReturnType<typeof createClient>;

/** Encodes one path segment; a repository name's `/` becomes %2F, as the contract says. */
export const seg = (value: string) => encodeURIComponent(value);
