// The machine's limit for the read rates: a bare node:http server answering a fixed body (the
// manifest's bytes) to every GET and HEAD, measured with the same load as manifestGet and blobHead.
import path from 'node:path';
import { rateLoad } from '../load.mjs';
import { rateSample, timed } from '../measure.mjs';
import { OCI_MANIFEST } from '../registry.mjs';
import { freePort, Server } from '../servers.mjs';

const SCRIPT = `
const http = require('node:http');
const body = Buffer.from(process.env.BARE_BODY, 'base64');
const headers = { 'content-type': process.env.BARE_TYPE, 'content-length': String(body.length) };
http.createServer((req, res) => { res.writeHead(200, headers); res.end(body); }).listen(Number(process.env.BARE_PORT), '127.0.0.1');
`;

let bare;

/** Starts the bare server once (its body: the manifest of `server`), measures GET and HEAD on it. */
export async function bareNode(server, opts) {
  if (!bare) {
    bare = new Server('bareNode', 'bare node');
    bare.logFile = path.join(opts.workDir, 'bare-node.log');
    bare.port = await freePort();
    const body = server.state.app.manifest('latest');
    await bare.start(process.execPath, ['-e', SCRIPT], { BARE_BODY: body.toString('base64'), BARE_TYPE: OCI_MANIFEST, BARE_PORT: String(bare.port) });
  }
  const get = await rateLoad(opts, { server: bare, method: 'GET', path: '/v2/bench/app/manifests/latest', headers: { Accept: OCI_MANIFEST } });
  const manifestGet = rateSample(await timed(bare, opts, get.run));
  const head = await rateLoad(opts, { server: bare, method: 'HEAD', path: '/v2/bench/app/blobs/sha256:0', headers: {} });
  const blobHead = rateSample(await timed(bare, opts, head.run));
  return { manifestGet, blobHead };
}

export async function stopBareNode() {
  await bare?.stop();
  bare = undefined;
}
