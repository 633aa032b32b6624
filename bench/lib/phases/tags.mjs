// Tags: pushing --tags manifests (the PUT rate), then listing them in one request and page by page.
import { rateSample, repeatFor, timed } from '../measure.mjs';
import { inParallel, pushImageBlobs, putManifest, walkTags } from '../registry.mjs';

export async function manifestPut(server, opts, round) {
  const repo = `bench/tags-${round}`;
  const image = await pushImageBlobs(server, repo);
  const names = Array.from({ length: opts.tags }, (_, i) => `t${String(i).padStart(6, '0')}`);
  const bodies = names.map((tag) => image.manifest(tag));
  const r = await timed(server, opts, async () => {
    await inParallel(names.length, opts.putConcurrency, (i) => putManifest(server, repo, names[i], bodies[i]));
    return { requests: names.length };
  });
  server.state.tags = { repo, names };
  return { manifestPut: rateSample(r) };
}

export async function tagsFull(server, opts) {
  const { repo, names } = server.state.tags;
  const first = await walkTags(server, repo); // unmeasured: checks the answer
  checkTags(server, first.tags, names);
  const r = await timed(server, opts, () => repeatFor(10, 1, () => walkTags(server, repo)));
  return { tagsFull: { value: (r.seconds * 1000) / r.ops, cpu: (r.serverCpu * 1000) / r.ops, serverCores: r.serverCpu / r.seconds, serverRssAfterMB: r.serverRssAfterMB, count: first.tags.length, repeats: r.ops } };
}

export async function tagsPaged(server, opts) {
  const { repo, names } = server.state.tags;
  const first = await walkTags(server, repo, opts.pageSize);
  checkTags(server, first.tags, names);
  const r = await timed(server, opts, () => repeatFor(3, 1, () => walkTags(server, repo, opts.pageSize)));
  return { tagsPaged: { value: (r.seconds * 1000) / r.ops, cpu: (r.serverCpu * 1000) / r.ops, serverCores: r.serverCpu / r.seconds, serverRssAfterMB: r.serverRssAfterMB, pages: first.pages, count: first.tags.length, repeats: r.ops } };
}

function checkTags(server, got, want) {
  const sorted = [...want].sort();
  if (got.length !== want.length || [...got].sort().some((t, i) => t !== sorted[i])) {
    throw new Error(`${server.label}: the tag list has ${got.length} tags, expected ${want.length}`);
  }
}
