import type { IncomingMessage } from 'node:http';
import { ConnectionError, readBody } from './http.js';

/**
 * Why a request to another registry failed: `unreachable` (no connection, a stall, a 5xx: the
 * registry is down or overloaded), `refused` (401/403: credentials or rights), `limited` (429),
 * `invalid` (it answered something that is not what the spec says).
 */
export class RemoteError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'refused' | 'limited' | 'invalid',
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RemoteError';
  }
}

/** Checks an answer's status; anything else is a RemoteError of the kind its status says, with the registry's message. */
export async function expectStatus(response: IncomingMessage, statuses: number[], what: string, host: string): Promise<void> {
  const status = response.statusCode ?? 0;
  if (statuses.includes(status)) return;
  const detail = await errorDetail(response);
  const message = `${host}: ${what}: ${status}${detail ? ` ${detail}` : ''}`;
  if (status === 401 || status === 403) throw new RemoteError('refused', message, status);
  if (status === 429) throw new RemoteError('limited', message, status);
  if (status >= 500) throw new RemoteError('unreachable', message, status);
  throw new RemoteError('invalid', message, status);
}

/** A JSON object body (16 MiB at most). */
export async function readJson(response: IncomingMessage, host: string): Promise<Record<string, unknown>> {
  const body = await readBody(response, 16 * 1024 * 1024).catch((error: unknown) => {
    throw asRemote(error, host);
  });
  try {
    const json = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new RemoteError('invalid', `${host} answered something that is not a JSON object`);
}

/** The message of an OCI error envelope, when the answer has one (a few KB at most). */
async function errorDetail(response: IncomingMessage): Promise<string | undefined> {
  if (response.readableEnded) return undefined;
  try {
    const body = await readBody(response, 64 * 1024);
    const json = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const first = json.errors?.[0];
    if (first) return [first.code, first.message].filter(Boolean).join(': ');
  } catch {
    // no envelope
  }
  return undefined;
}

export function asRemote(error: unknown, host: string): Error {
  if (error instanceof RemoteError) return error;
  if (error instanceof ConnectionError) return new RemoteError('unreachable', error.message, undefined, { cause: error });
  return new RemoteError('unreachable', `${host}: ${(error as Error).message}`, undefined, { cause: error });
}
