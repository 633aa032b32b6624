// The machine's limit for `docker push` and `docker pull`: the docker phase against a bare
// node:http registry that keeps every body in memory as it arrives, checks nothing (no digest is
// computed or verified, nothing is written to disk, no auth) and answers only what the docker
// daemon asks. What is left of a push's time is the daemon's own work (the layers' tar and gzip,
// on the same two cores as the server) and the loopback transfer: no registry can do better.
import path from 'node:path';
import { freePort, Server } from '../servers.mjs';
import { dockerAvailable, dockerPhase } from './docker.mjs';

const SCRIPT = `
const http = require('node:http');
const { createHash } = require('node:crypto');
const uploads = new Map();
const blobs = new Map();
const manifests = new Map();
let next = 0;
const BLOB = /^\\/v2\\/(.+)\\/blobs\\/(sha256:[0-9a-f]{64})$/;
const UPLOAD = /^\\/v2\\/(.+)\\/blobs\\/uploads\\/(\\d*)$/;
const MANIFEST = /^\\/v2\\/(.+)\\/manifests\\/([^/]+)$/;
function body(req, done) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => done(chunks));
}
function answer(res, status, headers, payload) {
  res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', 'content-length': String(payload ? payload.length : 0), ...headers });
  res.end(payload);
}
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://bare');
  const p = url.pathname;
  let m;
  if (p === '/v2/' || p === '/v2') return answer(res, 200, { 'content-type': 'application/json' }, Buffer.from('{}'));
  if ((m = UPLOAD.exec(p))) {
    if (req.method === 'POST') {
      const id = String(++next);
      uploads.set(id, []);
      return body(req, () => answer(res, 202, { location: '/v2/' + m[1] + '/blobs/uploads/' + id, range: '0-0', 'docker-upload-uuid': id }));
    }
    const parts = uploads.get(m[2]);
    if (!parts) return answer(res, 404, {});
    return body(req, (chunks) => {
      parts.push(...chunks);
      const size = parts.reduce((n, c) => n + c.length, 0);
      if (req.method === 'PATCH') return answer(res, 202, { location: p, range: '0-' + (size - 1), 'docker-upload-uuid': m[2] });
      const digest = url.searchParams.get('digest');
      uploads.delete(m[2]);
      blobs.set(digest, parts);
      answer(res, 201, { location: '/v2/' + m[1] + '/blobs/' + digest, 'docker-content-digest': digest });
    });
  }
  if ((m = BLOB.exec(p))) {
    const parts = blobs.get(m[2]);
    if (!parts) return answer(res, 404, {});
    const size = parts.reduce((n, c) => n + c.length, 0);
    res.writeHead(200, { 'content-length': String(size), 'content-type': 'application/octet-stream', 'docker-content-digest': m[2] });
    if (req.method === 'HEAD') return res.end();
    for (const c of parts) res.write(c);
    return res.end();
  }
  if ((m = MANIFEST.exec(p))) {
    if (req.method === 'PUT') {
      return body(req, (chunks) => {
        const content = Buffer.concat(chunks);
        const digest = 'sha256:' + createHash('sha256').update(content).digest('hex');
        const stored = { content, type: req.headers['content-type'], digest };
        manifests.set(m[1] + '@' + digest, stored);
        manifests.set(m[1] + ':' + m[2], stored);
        answer(res, 201, { location: p, 'docker-content-digest': digest });
      });
    }
    const stored = manifests.get(m[1] + (m[2].startsWith('sha256:') ? '@' : ':') + m[2]);
    if (!stored) return answer(res, 404, { 'content-type': 'application/json' }, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}'));
    const headers = { 'content-type': stored.type, 'docker-content-digest': stored.digest };
    if (req.method === 'HEAD') return res.writeHead(200, { ...headers, 'content-length': String(stored.content.length) }).end();
    return answer(res, 200, headers, stored.content);
  }
  answer(res, 404, {});
}).listen(Number(process.env.BARE_PORT), '127.0.0.1');
`;

let bare;

/** Starts the bare registry once, then runs the round's docker push and pull against it. */
export async function bareDocker(_server, opts, round, log) {
  if (!dockerAvailable(opts, log)) return {};
  if (!bare) {
    bare = new Server('bareNode', 'bare node');
    bare.logFile = path.join(opts.workDir, 'bare-docker.log');
    bare.port = await freePort();
    await bare.start(process.execPath, ['-e', SCRIPT], { BARE_PORT: String(bare.port) });
  }
  return dockerPhase(bare, opts, round, log);
}

export async function stopBareDocker() {
  await bare?.stop();
  bare = undefined;
}
