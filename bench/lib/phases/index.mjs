// The phases of a round, in order: each takes (server, opts, round, log) and resolves to
// { metricKey: sample }. `large` and `concurrency` run after the rounds (see run.mjs), `bareNode`
// and `bareDocker` once per round, after the reads and after docker (BARE_PHASES).
import { bareDocker } from './bare-docker.mjs';
import { bareNode } from './bare-node.mjs';
import { dockerPhase } from './docker.mjs';
import { blobHead, manifestGet } from './rates.mjs';
import { smallLayers } from './small-layers.mjs';
import { manifestPut, tagsFull, tagsPage, tagsPaged } from './tags.mjs';
import { chunked, download, monolithic } from './transfers.mjs';

export const ROUND_PHASES = [
  ['monolithic', monolithic],
  ['chunked', chunked],
  ['download', download],
  ['manifestGet', manifestGet],
  ['blobHead', blobHead],
  ['manifestPut', manifestPut],
  ['tagsFull', tagsFull],
  ['tagsPaged', tagsPaged],
  ['tagsPage', tagsPage],
  ['smallLayers', smallLayers],
  ['docker', dockerPhase],
];

/** Run once a round, not per server: [name, after which phase, function]. */
export const BARE_PHASES = [
  ['bareNode', 'blobHead', bareNode],
  ['bareDocker', 'docker', bareDocker],
];
