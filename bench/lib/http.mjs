// HTTP client of the registry operations: node:http with keep-alive, and the bearer token of the
// server's user (token mode) on every request that names a repository.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * One request, as is. `body` is a Buffer, or a function that writes the request and ends it.
 * The response body is collected (`collect`: true) or only counted. While `server.latencies` is an
 * array, each request's time to its response's end (ms) is added to it.
 */
export function send(server, method, target, { headers = {}, body, collect = true, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const url = typeof target === 'string' ? new URL(target, server.url) : target;
    const started = performance.now();
    const req = http.request(
      { agent, method, host: '127.0.0.1', port: server.port, path: url.pathname + url.search, headers, timeout: timeoutMs },
      (res) => {
        let bytes = 0;
        const chunks = [];
        res.on('data', (chunk) => {
          bytes += chunk.length;
          if (collect) chunks.push(chunk);
        });
        res.once('end', () => {
          server.latencies?.push(performance.now() - started);
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), bytes });
        });
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    if (typeof body === 'function') body(req).catch((error) => req.destroy(error));
    else req.end(body);
  });
}

/**
 * A request on `repo`: with the server's bearer token for it when the server has a user (token
 * mode). A 401 drops the token and the request is sent once more with a fresh one (a body
 * function writes the body again).
 */
export async function request(server, method, target, options = {}) {
  const { repo } = options;
  if (!server.auth || !repo) return send(server, method, target, options);
  const withToken = async () => send(server, method, target, { ...options, headers: { ...options.headers, authorization: await server.auth.authorization(repo) } });
  const res = await withToken();
  if (res.status !== 401) return res;
  server.auth.invalidate(repo);
  return withToken();
}

export function expect(res, statuses, what) {
  if (!statuses.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} (expected ${statuses.join('/')}): ${res.body?.toString('utf8', 0, 300)}`);
  }
  return res;
}
