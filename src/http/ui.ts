import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the web UI (web/ built by Vite), from src/http or dist/http alike. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

export interface UiOptions {
  /** the built UI: index.html, assets/ (content-hashed names), and a few fixed files */
  dir: string;
}

/**
 * The page's Content-Security-Policy: scripts, styles and connections from Pier only, no inline
 * script or style, images from Pier and data: URLs, never framed. A README's markup cannot
 * execute anything even if the renderer had a bug.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/** Paths that belong to the APIs: never answered with the UI, even when nothing else matches. */
const RESERVED = ['/v2', '/api', '/token', '/v1', '/healthz', '/readyz', '/metrics'];

/** Vite names everything under assets/ by its content hash: such a file never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.svg', '.json', '.txt', '.map']);

/** A built file, read once on first use and kept (the whole UI is a few hundred KB), compressed once per encoding. */
interface UiFile {
  path: string;
  type: string;
  immutable: boolean;
  compressible: boolean;
  body?: Buffer;
  etag?: string;
  encoded: Map<'br' | 'gzip', Promise<Buffer>>;
}

function isReserved(path: string): boolean {
  // anything that starts like /v2 is the registry's (its errors answer /v2x too, in the OCI envelope)
  if (path.startsWith('/v2')) return true;
  return RESERVED.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Lists the files of the build once, at start: requests only ever pick from this list (no path from a URL reaches the disk). */
function listFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  const walk = (current: string) => {
    let entries;
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const url = `/${relative(dir, path).split(sep).join('/')}`;
        const ext = extname(entry.name).toLowerCase();
        files.set(url, {
          path,
          type: TYPES[ext] ?? 'application/octet-stream',
          immutable: url.startsWith('/assets/'),
          compressible: COMPRESSIBLE.has(ext),
          encoded: new Map(),
        });
      }
    }
  };
  walk(dir);
  return files;
}

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

function load(file: UiFile): Buffer {
  if (!file.body) {
    file.body = readFileSync(file.path);
    file.etag = `"${createHash('sha256').update(file.body).digest('base64url').slice(0, 22)}"`;
  }
  return file.body;
}

function encoded(file: UiFile, encoding: 'br' | 'gzip'): Promise<Buffer> {
  let pending = file.encoded.get(encoding);
  if (!pending) {
    const body = load(file);
    pending =
      encoding === 'br'
        ? brotli(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } })
        : gzipAsync(body, { level: 9 });
    file.encoded.set(encoding, pending);
  }
  return pending;
}

function acceptedEncoding(header: string | undefined): 'br' | 'gzip' | undefined {
  if (!header) return undefined;
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name && (q === undefined || Number(q.slice(2)) > 0)) accepted.add(name.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return undefined;
}

/**
 * The web UI at `/`: built files as they are, and index.html for every other path that is not an
 * API's (the single-page app routes itself). Hashed assets are cached for a year, everything else
 * revalidates (ETag), so a new version shows at the next load.
 */
export function registerUi(app: FastifyInstance, options: UiOptions): void {
  const files = listFiles(options.dir);
  const index = files.get('/index.html');
  if (!index) app.log.warn({ dir: options.dir }, 'the web UI is not built: run `npm run build` to serve it at /');

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (isReserved(path)) return reply.callNotFound();
    let file = files.get(path);
    if (!file) {
      // a missing hashed asset is an old page asking for a file a newer build replaced: 404, not HTML
      if (path.startsWith('/assets/') || !index) return reply.callNotFound();
      file = index;
    }
    return send(request, reply, file);
  };
  app.route({ method: ['GET', 'HEAD'], url: '/', handler });
  app.route({ method: ['GET', 'HEAD'], url: '/*', handler });
}

async function send(request: FastifyRequest, reply: FastifyReply, file: UiFile): Promise<FastifyReply> {
  const body = load(file);
  reply.headers(SECURITY_HEADERS);
  reply.header('content-type', file.type);
  reply.header('cache-control', file.immutable ? IMMUTABLE : 'no-cache');
  reply.header('etag', file.etag!);
  if (file.compressible) reply.header('vary', 'accept-encoding');
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) {
    return reply.code(304).send();
  }
  const encoding = file.compressible ? acceptedEncoding(request.headers['accept-encoding']) : undefined;
  const payload = encoding ? await encoded(file, encoding) : body;
  if (encoding) reply.header('content-encoding', encoding);
  reply.header('content-length', payload.length);
  if (request.method === 'HEAD') return reply.send();
  return reply.send(payload);
}

/** For tests and the README's figure: what the first load downloads (index.html's scripts and styles). */
export function firstLoadAssets(dir: string): { scripts: string[]; styles: string[] } {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
  const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
  return { scripts: [...scripts, ...preloads], styles };
}

export function uiBuilt(dir: string): boolean {
  try {
    return statSync(join(dir, 'index.html')).isFile();
  } catch {
    return false;
  }
}
