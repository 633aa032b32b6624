// Upload and download rates of big blobs, by one client and, with --parallel, several at once.
import { Content, MiB } from '../content.mjs';
import { repeatFor, timed, transferSample } from '../measure.mjs';
import { pullBlob, pushChunked, pushMonolithic } from '../registry.mjs';

/** `key` for one client, `key@N` for N at once. */
const keyOf = (key, clients) => (clients === 1 ? key : `${key}@${clients}`);

/** POST + one PUT of the whole blob, by each client at once. */
export async function monolithic(server, opts, round) {
  const out = {};
  for (const clients of opts.parallel) {
    const repo = `bench/upload-${round}`;
    const contents = Array.from({ length: clients }, () => new Content(opts.sizeMiB * MiB));
    const r = await timed(server, opts, async () => {
      await Promise.all(contents.map((content) => pushMonolithic(server, repo, content)));
      return { bytes: clients * contents[0].size };
    });
    if (clients === 1 || !server.state.downloadable) server.state.downloadable = { repo, content: contents[0] };
    out[keyOf('monolithic', clients)] = transferSample(r);
  }
  return out;
}

/** POST, PATCHes of --chunk-mb, PUT: by each client at once. */
export async function chunked(server, opts, round) {
  const out = {};
  for (const clients of opts.parallel) {
    const contents = Array.from({ length: clients }, () => new Content(opts.sizeMiB * MiB));
    const r = await timed(server, opts, async () => {
      await Promise.all(contents.map((content) => pushChunked(server, `bench/upload-${round}`, content, opts.chunkMiB * MiB)));
      return { bytes: clients * contents[0].size };
    });
    out[keyOf('chunked', clients)] = transferSample(r);
  }
  return out;
}

/** GET of the blob the monolithic phase uploaded (in the page cache), repeated for at least a second. */
export async function download(server, opts) {
  const { repo, content } = server.state.downloadable;
  const out = {};
  for (const clients of opts.parallel) {
    const r = await timed(server, opts, async () => {
      const runs = await Promise.all(Array.from({ length: clients }, () => repeatFor(2, 1, () => pullBlob(server, repo, content.digest, content.size))));
      const ops = runs.reduce((n, run) => n + run.ops, 0);
      return { bytes: ops * content.size, repeats: ops };
    });
    out[keyOf('download', clients)] = { ...transferSample(r), repeats: r.repeats };
  }
  return out;
}
