// Tags: pushing --tags manifests (the PUT rate), then listing them in one request and page by page,
// and the rate of one page under the manifest GET's load.
import { rateLoad } from '../load.mjs';
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

/**
 * One page of --page-size tags from the middle of the list (`n` and `last`), under the load of the
 * manifest GET: what a page costs beside a manifest. The walk above is one request at a time, so
 * its CPU per page includes waking an idle server for each. The reference ignores `n` and answers
 * every tag.
 */
export async function tagsPage(server, opts) {
  const { repo, names } = server.state.tags;
  const last = names[Math.floor(names.length / 2)];
  const { run } = await rateLoad(opts, { server, repo, method: 'GET', path: `/v2/${repo}/tags/list?n=${opts.pageSize}&last=${last}`, headers: {} });
  return { tagsPage: rateSample(await timed(server, opts, run)) };
}
