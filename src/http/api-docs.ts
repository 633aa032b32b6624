import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * GET /api/docs: a reference page for /api/v1, rendered in the browser from the OpenAPI document
 * by a small script of ours (static/api-docs/). No CDN (an installation may be offline) and no
 * inline script or style: the page works under a strict Content-Security-Policy, which it sends.
 */
const FILES = {
  '/api/docs': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/api/docs/docs.js': { file: 'docs.js', type: 'text/javascript; charset=utf-8' },
  '/api/docs/docs.css': { file: 'docs.css', type: 'text/css; charset=utf-8' },
} as const;

export const API_DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** static/ sits beside src/ and dist/, which are at the same depth. */
const STATIC = new URL('../../static/api-docs/', import.meta.url);

export function registerApiDocs(app: FastifyInstance): void {
  for (const [url, { file, type }] of Object.entries(FILES)) {
    // a few kilobytes, read once
    const body = readFileSync(new URL(file, STATIC));
    app.get(url, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('cache-control', 'no-cache')
        .header('content-security-policy', API_DOCS_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(body),
    );
  }
}
