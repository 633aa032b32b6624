// What a repository page shows of content pushed by a real client: skopeo copies, with
// credentials (token mode), from OCI layouts written here, a multi-arch index (`copy --all`) and a
// Helm chart (a Helm config and chart layer, as `helm push` makes it). The API then shows every
// platform with its own size, the layers with their build steps, who pushed each tag, and the chart
// as an artifact. Without skopeo the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { makeImage, type TestImage } from '../support/images.js';
import { jsonBytes, MT, sha256 } from '../support/oci.js';
import { findSkopeo, SkopeoClient } from '../support/skopeo.js';

const found = await findSkopeo();

const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

/** An OCI image layout (image-spec layout.md) holding `manifest` under `tag`, with its blobs. */
async function writeLayout(dir: string, tag: string, manifest: { bytes: Buffer; mediaType: string }, blobs: Buffer[]): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of [...blobs, manifest.bytes]) await writeFile(join(dir, 'blobs', 'sha256', sha256(blob).slice('sha256:'.length)), blob);
  const entry = { mediaType: manifest.mediaType, digest: sha256(manifest.bytes), size: manifest.bytes.length, annotations: { 'org.opencontainers.image.ref.name': tag } };
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.OciIndex, manifests: [entry] }));
}

const imageSize = (image: TestImage) => image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);

describe('repository pages of what skopeo pushed', { ...skipUnless(found), timeout: 10 * 60_000 }, () => {
  let server: ApiServer;
  let skopeo: SkopeoClient;
  let registry: string;
  let workDir: string;

  before(async () => {
    skopeo = await SkopeoClient.create(requireTool(found));
    server = await startApiServer();
    registry = new URL(server.url).host;
    workDir = await mkdtemp(join(tmpdir(), 'pier-pages-e2e-'));
    await createUser(server, 'alice');
  });

  after(async () => {
    await server?.stop();
    await skopeo?.cleanup();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const push = (source: string, destination: string, all = false) =>
    skopeo.ok(['copy', ...(all ? ['--all'] : []), '--dest-tls-verify=false', '--dest-creds', `alice:${PASSWORD}`, source, `docker://${registry}/${destination}`], { timeoutMs: 120_000 });

  it('shows every platform of a multi-arch index copied with --all, each with its own size and layers', async () => {
    const amd64 = makeImage({ layers: 2, layerBytes: 3000, platform: { architecture: 'amd64', os: 'linux' } });
    const arm64 = makeImage({ layers: 1, layerBytes: 9000, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } });
    const index = jsonBytes({ schemaVersion: 2, mediaType: MT.OciIndex, manifests: [amd64.descriptor, arm64.descriptor] });
    const blobs = [amd64, arm64].flatMap((image) => [image.manifest, image.config.bytes, ...image.layers.map((l) => l.bytes)]);
    const layout = join(workDir, 'multi');
    await writeLayout(layout, 'v1', { bytes: index, mediaType: MT.OciIndex }, blobs);
    await push(`oci:${layout}:v1`, 'alice/multi:v1', true);

    const tag = await expectJson<Record<string, unknown> & { images: Array<Record<string, unknown>> }>(await server.api('/repositories/alice/multi/tags/v1'), 200);
    assert.equal(tag.digest, sha256(index), 'skopeo --all copies the index byte for byte');
    assert.deepEqual([tag.content_type, tag.media_type, tag.full_size, tag.last_updater_username], ['index', MT.OciIndex, imageSize(amd64) + imageSize(arm64), 'alice']);
    assert.deepEqual(
      tag.images.map((i) => [i.os, i.architecture, i.variant, i.digest, i.size]),
      [
        ['linux', 'amd64', null, amd64.digest, imageSize(amd64)],
        ['linux', 'arm64', 'v8', arm64.digest, imageSize(arm64)],
      ],
    );
    const images = await expectJson<Array<{ architecture: string; config_digest: string; layers: Array<{ digest: string; size: number; instruction: string }> }>>(
      await server.api('/repositories/alice/multi/tags/v1/images'),
      200,
    );
    assert.deepEqual(
      images.map((i) => [i.architecture, i.config_digest, i.layers.map((l) => [l.digest, l.size, l.instruction])]),
      [amd64, arm64].map((image) => [image === amd64 ? 'amd64' : 'arm64', image.config.digest, image.layers.map((l) => [l.digest, l.size, 'pier test'])]),
    );
    const repository = await expectJson<Record<string, unknown>>(await server.api('/repositories/alice/multi'), 200);
    assert.deepEqual([repository.repository_type, repository.content_types], ['image', ['image', 'index']]);
  });

  it('shows a Helm chart as an artifact', async () => {
    const config = jsonBytes({ apiVersion: 'v2', name: 'demo', version: '1.0.0', description: 'A demo chart' });
    const chart = Buffer.from(`a chart archive ${sha256(String(Math.random()))}`);
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.OciManifest,
      config: { mediaType: HELM_CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: HELM_CHART, digest: sha256(chart), size: chart.length }],
      annotations: { 'org.opencontainers.image.description': 'A demo chart', 'org.opencontainers.image.version': '1.0.0' },
    });
    const layout = join(workDir, 'chart');
    await writeLayout(layout, '1.0.0', { bytes: manifest, mediaType: MT.OciManifest }, [config, chart]);
    await push(`oci:${layout}:1.0.0`, 'alice/demo-chart:1.0.0');

    const tag = await expectJson<Record<string, unknown>>(await server.api('/repositories/alice/demo-chart/tags/1.0.0'), 200);
    assert.deepEqual([tag.content_type, tag.full_size, tag.last_updater_username], ['helm', config.length + chart.length, 'alice']);
    const repository = await expectJson<Record<string, unknown>>(await server.api('/repositories/alice/demo-chart'), 200);
    assert.deepEqual([repository.repository_type, repository.content_types, repository.full_description, repository.readme_source], ['artifact', ['helm'], 'A demo chart', 'image']);
    const [image] = await expectJson<Array<{ layers: unknown[] }>>(await server.api('/repositories/alice/demo-chart/tags/1.0.0/images'), 200);
    assert.deepEqual(image!.layers, [{ digest: sha256(chart), size: chart.length, media_type: HELM_CHART, instruction: null, empty_layer: false }]);
    const artifacts = await expectJson<{ results: Array<{ name: string }> }>(await server.api('/search?type=artifact'), 200);
    assert.deepEqual(artifacts.results.map((r) => r.name), ['demo-chart']);
  });
});
