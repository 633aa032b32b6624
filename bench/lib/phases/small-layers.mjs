// An image of many small layers (--layers, sizes in --layer-kb drawn from --seed, as
// language-package images have): pushed over HTTP (blobs, config, manifest), then pulled
// (manifest, every blob), by one client and, with --parallel, with N requests in flight.
import { Content, seededRandom } from '../content.mjs';
import { timed } from '../measure.mjs';
import { getBlob, getManifest, imageConfig, imageManifest, inParallel, pushMonolithic, putManifest } from '../registry.mjs';

/** The layer sizes in bytes: the same for every server, round and run with the same seed. */
export function layerSizes(opts) {
  const random = seededRandom(opts.seed);
  const { min, max } = opts.layerKiB;
  return Array.from({ length: opts.layers }, () => Math.max(64, Math.round((min + random() * (max - min)) * 1024)));
}

export async function smallLayers(server, opts, round) {
  const sizes = layerSizes(opts);
  const out = {};
  for (const clients of opts.parallel) {
    const repo = `bench/layers-${round}-${clients}`;
    const layers = sizes.map((size) => new Content(size)); // new digests every time: nothing is there yet
    const config = imageConfig();
    const manifest = imageManifest(config, layers, `layers-${round}`);
    const push = await timed(server, opts, async () => {
      await inParallel(layers.length, clients, (i) => pushMonolithic(server, repo, layers[i]));
      await pushMonolithic(server, repo, config);
      await putManifest(server, repo, 'latest', manifest);
      return { requests: 2 * layers.length + 3, bytes: sizes.reduce((a, b) => a + b, 0) };
    });
    const pull = await timed(server, opts, async () => {
      const got = await getManifest(server, repo, 'latest');
      if (got.layers.length !== layers.length) throw new Error(`${server.label}: the manifest has ${got.layers.length} layers, expected ${layers.length}`);
      const blobs = [got.config, ...got.layers];
      await inParallel(blobs.length, clients, (i) => getBlob(server, repo, blobs[i].digest, blobs[i].size));
      return { requests: blobs.length + 1, bytes: push.bytes };
    });
    const suffix = clients === 1 ? '' : `@${clients}`;
    out[`smallLayersPush${suffix}`] = sample(push);
    out[`smallLayersPull${suffix}`] = sample(pull);
  }
  return out;
}

/** Seconds for the image, and the server's CPU seconds for it. */
function sample(r) {
  return { value: r.seconds, cpu: r.serverCpu, serverCores: r.serverCpu / r.seconds, serverSystemShare: r.serverSystemShare, clientCpu: r.clientCpu, requests: r.requests, bytes: r.bytes, cpuPerRequestUs: (r.serverCpu * 1e6) / r.requests };
}
