// Request rates of the reads every pull makes: a manifest GET by tag and a blob HEAD.
import { rateLoad } from '../load.mjs';
import { rateSample, timed } from '../measure.mjs';
import { OCI_MANIFEST } from '../registry.mjs';

export async function manifestGet(server, opts) {
  const { repo } = server.state.app;
  const { run } = await rateLoad(opts, { server, repo, method: 'GET', path: `/v2/${repo}/manifests/latest`, headers: { Accept: OCI_MANIFEST } });
  return { manifestGet: rateSample(await timed(server, opts, run)) };
}

/** Always the Node client: wrk waits for a body after a HEAD. */
export async function blobHead(server, opts) {
  const { repo, layer } = server.state.app;
  const { run } = await rateLoad(opts, { server, repo, method: 'HEAD', path: `/v2/${repo}/blobs/${layer.digest}`, headers: {} });
  return { blobHead: rateSample(await timed(server, opts, run)) };
}
