// Registry operations (distribution API v2), each checked; in token mode with the server's token.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { blobOf, MiB, smallBlob } from './content.mjs';
import { expect, request } from './http.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export async function openUpload(server, repo) {
  const res = expect(await request(server, 'POST', `/v2/${repo}/blobs/uploads/`, { repo, headers: { 'content-length': '0' } }), [202], 'POST upload');
  return new URL(res.headers.location, server.url);
}

function withDigest(location, digest) {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

/** POST, then one PUT ?digest= with the whole body (a Content, or a { buffer, digest, size }). */
export async function pushMonolithic(server, repo, content) {
  const location = await openUpload(server, repo);
  const res = await request(server, 'PUT', withDigest(location, content.digest), {
    repo,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(content.size) },
    body: content.buffer ?? content.writer(0, content.size),
  });
  expect(res, [201], 'PUT monolithic upload');
  if (res.headers['docker-content-digest'] && res.headers['docker-content-digest'] !== content.digest) {
    throw new Error(`${server.label} stored ${res.headers['docker-content-digest']}, expected ${content.digest}`);
  }
  return { digest: content.digest, size: content.size };
}

/** POST, PATCH chunks with Content-Range, then PUT ?digest= without a body. */
export async function pushChunked(server, repo, content, chunkSize) {
  let location = await openUpload(server, repo);
  for (let start = 0; start < content.size; start += chunkSize) {
    const end = Math.min(content.size, start + chunkSize);
    const res = await request(server, 'PATCH', location, {
      repo,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'content-range': `${start}-${end - 1}` },
      body: content.writer(start, end),
    });
    expect(res, [202], `PATCH ${start}-${end - 1}`);
    location = new URL(res.headers.location, server.url);
  }
  const res = await request(server, 'PUT', withDigest(location, content.digest), { repo, headers: { 'content-length': '0' } });
  expect(res, [201], 'PUT chunked upload');
}

/**
 * GET a blob on a fresh connection, read into one reused buffer (net's `onread`): node:http's
 * client allocates per chunk and costs more CPU than a server that sends with sendfile(2).
 */
export async function pullBlob(server, repo, digest, size) {
  const target = `/v2/${repo}/blobs/${digest}`;
  const authorization = server.auth ? `Authorization: ${await server.auth.authorization(repo, 60)}\r\n` : '';
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let status = 0;
    let length = -1;
    let received = 0;
    let errorBody = '';
    const finish = (error) => {
      socket.destroy();
      clearTimeout(timer);
      if (error) reject(error);
      else if (status !== 200) reject(new Error(`${server.label}: GET blob answered ${status}: ${errorBody}`));
      else if (received !== size) reject(new Error(`${server.label}: GET blob returned ${received} bytes, expected ${size}`));
      else resolve(received);
    };
    const socket = net.connect({
      host: '127.0.0.1',
      port: server.port,
      onread: {
        buffer: Buffer.allocUnsafe(4 * MiB),
        callback(n, buffer) {
          if (length >= 0) {
            received += n;
          } else {
            head = Buffer.concat([head, buffer.subarray(0, n)]);
            const end = head.indexOf('\r\n\r\n');
            if (end === -1) return;
            const header = head.toString('latin1', 0, end);
            status = Number(header.slice(9, 12));
            const declared = /\r\ncontent-length:\s*(\d+)/i.exec(header);
            if (!declared) return finish(new Error(`${server.label}: GET blob answered ${status} without Content-Length:\n${header}`));
            length = Number(declared[1]);
            received = head.length - end - 4;
            if (status !== 200) errorBody = head.toString('utf8', end + 4, end + 304);
          }
          if (received >= length) finish();
        },
      },
    });
    const timer = setTimeout(() => finish(new Error(`${server.label}: GET ${target} timed out`)), 600_000);
    socket.once('connect', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n${authorization}Connection: close\r\n\r\n`));
    socket.once('error', finish);
    socket.once('end', () => (length < 0 || received < length) && finish(new Error(`${server.label}: GET ${target}: connection closed early`)));
  });
}

/** GET a small blob through the keep-alive client (what a client pulling many small layers does). */
export async function getBlob(server, repo, digest, size) {
  const res = expect(await request(server, 'GET', `/v2/${repo}/blobs/${digest}`, { repo, collect: false }), [200], `GET blob ${digest}`);
  if (res.bytes !== size) throw new Error(`${server.label}: GET blob returned ${res.bytes} bytes, expected ${size}`);
}

export async function headBlob(server, repo, digest) {
  expect(await request(server, 'HEAD', `/v2/${repo}/blobs/${digest}`, { repo }), [200], `HEAD blob ${digest}`);
}

/** An image config (unique by a random field), as a blob to push. */
export function imageConfig() {
  return blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, bench: randomBytes(8).toString('hex') })));
}

/** An OCI image manifest naming `config` and `layers` ({ digest, size }), annotated to make it distinct. */
export function imageManifest(config, layers, annotation) {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
      annotations: { 'org.example.bench': annotation },
    }),
  );
}

/** A config and a layer in `repo`; returns a function that renders a manifest (distinct per tag). */
export async function pushImageBlobs(server, repo) {
  const config = await pushMonolithic(server, repo, imageConfig());
  const layer = await pushMonolithic(server, repo, smallBlob(4096));
  return { config, layer, manifest: (annotation) => imageManifest(config, [layer], annotation) };
}

export async function putManifest(server, repo, reference, body) {
  const res = await request(server, 'PUT', `/v2/${repo}/manifests/${reference}`, {
    repo,
    headers: { 'content-type': OCI_MANIFEST, 'content-length': String(body.length) },
    body,
  });
  expect(res, [201], `PUT manifest ${reference}`);
}

export async function getManifest(server, repo, reference) {
  const res = expect(await request(server, 'GET', `/v2/${repo}/manifests/${reference}`, { repo, headers: { accept: OCI_MANIFEST } }), [200], `GET manifest ${reference}`);
  return JSON.parse(res.body.toString('utf8'));
}

/** Follows Link: <...>; rel="next" from the first page; the tags and the number of pages. */
export async function walkTags(server, repo, n) {
  let target = n === undefined ? `/v2/${repo}/tags/list` : `/v2/${repo}/tags/list?n=${n}`;
  const tags = [];
  let pages = 0;
  while (target) {
    const res = expect(await request(server, 'GET', target, { repo }), [200], 'GET tags/list');
    pages++;
    tags.push(...JSON.parse(res.body.toString('utf8')).tags);
    const link = res.headers.link && /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.link);
    target = link ? link[1] : undefined;
    if (pages > 100_000) throw new Error('tag pagination does not end');
  }
  return { tags, pages };
}

export async function inParallel(count, concurrency, work) {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
