// The large push and pull (--large-mb), with the server's RSS peak reset before and sampled during each.
import { Content, MB, MiB } from '../content.mjs';
import { syncDisks, timed, transferSample } from '../measure.mjs';
import { memory, resetPeak, rssSampler } from '../proc.mjs';
import { pullBlob, pushMonolithic } from '../registry.mjs';

export async function large(server, opts) {
  const content = new Content(opts.largeMiB * MiB);
  const repo = 'bench/large';
  const out = {};
  for (const kind of ['push', 'pull']) {
    syncDisks(opts);
    const before = memory(server.pid).rss;
    const reset = resetPeak(server.pid);
    const stopSampling = rssSampler(server.pid);
    let r;
    let sampledPeak;
    try {
      r = await timed(server, { ...opts, sync: false }, async () => {
        if (kind === 'push') await pushMonolithic(server, repo, content);
        else await pullBlob(server, repo, content.digest, content.size);
        return { bytes: content.size };
      });
    } finally {
      sampledPeak = stopSampling();
    }
    const hwm = memory(server.pid).hwm;
    out[kind === 'push' ? 'largePush' : 'largePull'] = transferSample(r);
    out[kind === 'push' ? 'rssLargePush' : 'rssLargePull'] = {
      value: (reset ? Math.max(hwm, sampledPeak) : sampledPeak) / MB,
      before: before / MB,
      sampledPeak: sampledPeak / MB,
      hwm: reset ? hwm / MB : undefined,
      method: reset ? 'VmHWM after clear_refs 5, and VmRSS sampled every 20 ms' : 'VmRSS sampled every 20 ms',
    };
  }
  return out;
}
