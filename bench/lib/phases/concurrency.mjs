// The mixed workload of issue 14, by N clients at once for --seconds: each client loops over
// start an upload and PUT a 16–80 KB blob, the same for a config, PUT a manifest (50 tags
// rotating), GET it back, HEAD and GET the blob, and list the tags every tenth round. Each client
// has its own repository; in token mode each request carries the user's bearer token.
import { performance } from 'node:perf_hooks';
import { smallBlob } from '../content.mjs';
import { percentile, timed } from '../measure.mjs';
import { getBlob, getManifest, headBlob, imageConfig, imageManifest, pushMonolithic, putManifest, walkTags } from '../registry.mjs';

const TAGS = 50;

async function client(server, repo, deadline) {
  let rounds = 0;
  while (performance.now() < deadline) {
    const size = 16_000 + Math.floor(Math.random() * 64_001);
    const layer = await pushMonolithic(server, repo, smallBlob(size));
    const config = await pushMonolithic(server, repo, imageConfig());
    const tag = `t${rounds % TAGS}`;
    await putManifest(server, repo, tag, imageManifest(config, [layer], `${repo}:${rounds}`));
    await getManifest(server, repo, tag);
    await headBlob(server, repo, layer.digest);
    await getBlob(server, repo, layer.digest, layer.size);
    if (rounds % 10 === 9) await walkTags(server, repo);
    rounds++;
  }
  return rounds;
}

/** One point of the curve: `clients` clients on `server` for --seconds. */
export async function concurrencyPoint(server, opts, clients, run) {
  const latencies = [];
  server.latencies = latencies; // every request's time, recorded by the HTTP client
  try {
    const deadline = performance.now() + opts.seconds * 1000;
    const r = await timed(server, opts, async () => {
      const rounds = await Promise.all(Array.from({ length: clients }, (_, i) => client(server, `bench/mix-${run}-${clients}-${i}`, deadline)));
      return { rounds: rounds.reduce((a, b) => a + b, 0) };
    });
    latencies.sort((a, b) => a - b);
    return {
      value: latencies.length / r.seconds,
      cpu: (r.serverCpu * 1e6) / latencies.length,
      requests: latencies.length,
      rounds: r.rounds,
      seconds: r.seconds,
      p50ms: percentile(latencies, 50),
      p99ms: percentile(latencies, 99),
      serverCores: r.serverCpu / r.seconds,
      serverSystemShare: r.serverSystemShare,
      clientCpu: r.clientCpu,
      serverRssAfterMB: r.serverRssAfterMB,
    };
  } finally {
    delete server.latencies;
  }
}
