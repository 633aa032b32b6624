import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { NetworkGuard } from './network-guard.js';

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface SendResult {
  /** the HTTP status, when an answer came */
  status?: number;
  latencyMs: number;
  /** the first bytes of the answer's body (text) */
  excerpt?: string;
  /** why it failed without an answer, or why the answer is a failure */
  error?: string;
  /** the target is refused (an address the guard refuses, a URL that is not http(s)): retrying cannot help */
  refused?: boolean;
}

const EXCERPT_BYTES = 1024;

/**
 * Posts one delivery. The name is resolved here, every address it resolves to is checked by the
 * guard, and the connection goes to the checked address (the request's `lookup` answers it), so
 * a name cannot resolve to something else between the check and the connection. Redirects are
 * not followed (an answer is an answer: 3xx is a failure). Only 2xx is a success.
 */
export async function send(guard: NetworkGuard, request: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { latencyMs: 0, error: 'the URL is not valid', refused: true };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { latencyMs: 0, error: `${url.protocol} URLs are not delivered to: use http or https`, refused: true };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host);
  } catch (error) {
    return { latencyMs: elapsed(), error: `could not resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  for (const { address } of addresses) {
    const why = guard.refusal(address);
    if (why) return { latencyMs: elapsed(), error: `${host} resolves to ${address}, a ${why} address, which webhooks may not reach (webhooks.allowNetworks allows a range)`, refused: true };
  }
  const target = addresses[0]!;
  return new Promise<SendResult>((done) => {
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(
      url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
        // the connection goes to the address that was checked, whatever the name resolves to now
        lookup: (_hostname, options, callback) => {
          if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [target]);
          else callback(null, target.address, target.family);
        },
        timeout: request.timeoutMs,
        agent: false,
      },
      (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < EXCERPT_BYTES) {
            chunks.push(chunk.subarray(0, EXCERPT_BYTES - kept));
            kept += Math.min(chunk.length, EXCERPT_BYTES - kept);
          }
        });
        const finish = () => {
          const status = response.statusCode ?? 0;
          const excerpt = Buffer.concat(chunks).toString('utf8');
          const ok = status >= 200 && status < 300;
          done({ status, latencyMs: elapsed(), excerpt, ...(ok ? {} : { error: status >= 300 && status < 400 ? `answered ${status}: redirects are not followed` : `answered ${status}` }) });
        };
        response.on('end', finish);
        response.on('error', finish);
        response.on('aborted', finish);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => done({ latencyMs: elapsed(), error: error.code ? `${error.code}: ${error.message}` : error.message }));
    req.end(request.body);
  });
}

function resolve(host: string): Promise<LookupAddress[]> {
  return new Promise((ok, fail) => dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? fail(error) : ok(addresses))));
}
