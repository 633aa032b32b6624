// Uploads after a quiet spell (--idle-seconds, all servers idle at once): what a registry does
// between pushes. A runtime's heuristics may have shrunk its heap limits meanwhile (V8 lowers its
// heap growing factor when it measures slow allocation), which the rounds, back to back, never see.
import { Content, MiB } from '../content.mjs';
import { timed, transferSample } from '../measure.mjs';
import { pushChunked, pushMonolithic } from '../registry.mjs';

/** One monolithic then one chunked upload of --size-mb, on a server that idled. */
export async function afterIdle(server, opts) {
  const repo = 'bench/after-idle';
  const mono = new Content(opts.sizeMiB * MiB);
  const r1 = await timed(server, opts, async () => {
    await pushMonolithic(server, repo, mono);
    return { bytes: mono.size };
  });
  const chunks = new Content(opts.sizeMiB * MiB);
  const r2 = await timed(server, opts, async () => {
    await pushChunked(server, repo, chunks, opts.chunkMiB * MiB);
    return { bytes: chunks.size };
  });
  return { idleMonolithic: transferSample(r1), idleChunked: transferSample(r2) };
}
