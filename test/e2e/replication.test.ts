/**
 * Replication between registries started here: a Pier (token mode) whose push rules copy every push
 * to the reference registry (no auth, no referrers API) and to a second Pier in token mode (with the
 * rule's credentials), a pull rule of that second Pier copying from the reference registry on its
 * schedule; a multi-arch index with a referrer verified by digest on every side; blobs the target
 * has skipped, blobs another repository there holds mounted; runs recorded in the API and the CLI,
 * and a run whose target is down retried until it succeeds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { tokenFor, type Login } from '../support/auth.js';
import { runPier } from '../support/cli.js';
import { CountingProxy } from '../support/counting-proxy.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { ACCEPT_ALL, makeImage, makeIndex, pushImage, type TestImage } from '../support/images.js';
import { pushManifest, sha256 } from '../support/oci.js';
import { findReferenceRegistry, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';

const reference = await findReferenceRegistry();
const admin: [string, string] = ['captain', PASSWORD];
const alice: Login = { username: 'alice', secret: PASSWORD };
const siteb: Login = { username: 'siteb', secret: 'site b replication secret' };

interface Run {
  id: string;
  rule: string;
  trigger: string;
  status: string;
  attempts: number;
  manifests_copied: number;
  blobs_copied: number;
  blobs_skipped: number;
  bytes_copied: number;
  error: string | null;
  scope: { repository: string; tags: string[]; digests: string[] } | null;
}

interface MultiArch {
  amd: TestImage;
  arm: TestImage;
  index: { body: Buffer; digest: string };
  referrer: TestImage;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** GET a manifest by digest and check its bytes, from a registry (with a bearer token, or none). */
async function assertManifest(base: string, repository: string, digest: string, body: Buffer, token?: string): Promise<void> {
  const res = await fetch(`${base}/v2/${repository}/manifests/${digest}`, { headers: { accept: ACCEPT_ALL, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200, `${base} ${repository}@${digest}: ${bytes.toString().slice(0, 300)}`);
  assert.equal(sha256(bytes), digest);
  assert.deepEqual(bytes, body);
}

async function assertBlobs(base: string, repository: string, images: TestImage[], token?: string): Promise<void> {
  for (const image of images) {
    for (const blob of [image.config, ...image.layers]) {
      const res = await fetch(`${base}/v2/${repository}/blobs/${blob.digest}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      assert.equal(res.status, 200, `${repository}@${blob.digest}`);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), blob.digest);
    }
  }
}

/** The whole multi-arch image with its referrer, verified by digest. */
async function assertMultiArch(base: string, repository: string, image: MultiArch, token?: string): Promise<void> {
  await assertManifest(base, repository, image.index.digest, image.index.body, token);
  await assertManifest(base, repository, image.amd.digest, image.amd.manifest, token);
  await assertManifest(base, repository, image.arm.digest, image.arm.manifest, token);
  await assertManifest(base, repository, image.referrer.digest, image.referrer.manifest, token);
  await assertBlobs(base, repository, [image.amd, image.arm, image.referrer], token);
}

describe('replication to and from the reference registry and another Pier', { ...skipUnless(reference), timeout: 300_000 }, () => {
  let site: ReferenceRegistry;
  let source: ApiServer;
  let siteB: ApiServer;
  let aliceToken: string;
  let image: MultiArch;

  before(async () => {
    site = await startReferenceRegistry(requireTool(reference));
    source = await startApiServer({ 'replication.retryDelay': '1s' });
    await source.hub.accounts.create({ name: 'captain', password: PASSWORD, admin: true });
    await source.hub.accounts.create({ name: alice.username, password: alice.secret });
    siteB = await startApiServer({ 'replication.retryDelay': '1s' });
    await siteB.hub.accounts.create({ name: 'captain', password: PASSWORD, admin: true });
    await siteB.hub.accounts.create({ name: siteb.username, password: siteb.secret });
    aliceToken = await tokenFor(source.url, alice, ['repository:alice/app:pull,push', 'repository:alice/other:pull,push']);
  });

  after(async () => {
    await source?.stop();
    await siteB?.stop();
    await site?.stop();
  });

  const runsOf = async (server: ApiServer, rule: string): Promise<Run[]> =>
    (await expectJson<{ results: Run[] }>(await server.api(`/replication/runs?rule=${rule}&page_size=100`, { auth: { basic: admin } }), 200)).results;

  /** Waits until every run of the rule is over (none queued or running) and at least `count` exist. */
  const settled = (server: ApiServer, rule: string, count = 1) =>
    until(`the runs of ${rule}`, async () => {
      const runs = await runsOf(server, rule);
      return runs.length >= count && runs.every((r) => r.status === 'succeeded' || r.status === 'failed') ? runs : undefined;
    });

  it('push rules copy a multi-arch index with a referrer, after its push, to both sites byte for byte', async () => {
    const toRef = await source.api('/replication/rules', {
      method: 'POST',
      auth: { basic: admin },
      json: { name: 'to-ref', direction: 'push', url: site.url, repositories: ['alice/*'] },
    });
    assert.equal((await expectJson(toRef, 201)).direction, 'push');
    const toB = await source.api('/replication/rules', {
      method: 'POST',
      auth: { basic: admin },
      json: { name: 'to-b', direction: 'push', url: siteB.url, username: siteb.username, password: siteb.secret, repositories: ['alice/**'], tags: ['v*'], destination: 'siteb' },
    });
    const created = await expectJson(toB, 201);
    assert.equal(created.has_password, true);
    assert.ok(!JSON.stringify(created).includes(siteb.secret));

    const amd = makeImage({ platform: { architecture: 'amd64', os: 'linux' }, layers: 2, layerBytes: 200_000 });
    const arm = makeImage({ platform: { architecture: 'arm64', os: 'linux' }, layerBytes: 100_000 });
    await pushImage(source.url, 'alice/app', amd.digest, { image: amd, token: aliceToken });
    await pushImage(source.url, 'alice/app', arm.digest, { image: arm, token: aliceToken });
    const index = makeIndex([
      { image: amd, architecture: 'amd64' },
      { image: arm, architecture: 'arm64' },
    ]);
    await pushManifest(source.url, 'alice/app', 'v1', index.body, 'application/vnd.oci.image.index.v1+json', { token: aliceToken });
    const referrer = makeImage({
      subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: index.digest, size: index.body.length },
      artifactType: 'application/vnd.example.signature.v1',
      annotations: { 'org.example.signed-by': 'alice' },
      layerBytes: 64,
    });
    await pushImage(source.url, 'alice/app', referrer.digest, { image: referrer, token: aliceToken });
    image = { amd, arm, index, referrer };

    // pushes that come while a run waits are merged into it: one run or more, all succeeded
    const refRuns = await settled(source, 'to-ref');
    assert.ok(refRuns.every((r) => r.status === 'succeeded' && r.trigger === 'push'), JSON.stringify(refRuns));
    // on the reference registry: every manifest by digest, every blob, and the referrer in the
    // spec's fallback tag (it has no referrers API)
    await until('the referrer on the reference registry', async () => {
      await assertMultiArch(site.url, 'alice/app', image);
      return true;
    });
    const fallback = await fetch(`${site.url}/v2/alice/app/manifests/${index.digest.replace(':', '-')}`, { headers: { accept: ACCEPT_ALL } });
    assert.equal(fallback.status, 200);
    const listed = (await fallback.json()) as { manifests: Array<{ digest: string; artifactType?: string }> };
    assert.deepEqual(
      listed.manifests.map((m) => [m.digest, m.artifactType]),
      [[referrer.digest, 'application/vnd.example.signature.v1']],
    );
    const tagged = await fetch(`${site.url}/v2/alice/app/manifests/v1`, { method: 'HEAD', headers: { accept: ACCEPT_ALL } });
    assert.equal(tagged.headers.get('docker-content-digest'), index.digest);

    // on the other Pier, under the rule's destination, with its credentials; its referrers API lists the signature
    await settled(source, 'to-b');
    const token = await tokenFor(siteB.url, siteb, ['repository:siteb/alice/app:pull']);
    await until('the referrer on site B', async () => {
      await assertMultiArch(siteB.url, 'siteb/alice/app', image, token);
      return true;
    });
    const referrers = await fetch(`${siteB.url}/v2/siteb/alice/app/referrers/${index.digest}`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(((await referrers.json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest), [referrer.digest]);
  });

  it('records what each run copied: in the API, with the report of a run', async () => {
    const runs = await runsOf(source, 'to-ref');
    const tagRun = runs.find((r) => r.scope?.tags.includes('v1'))!;
    assert.ok(tagRun, JSON.stringify(runs));
    assert.equal(tagRun.scope!.repository, 'alice/app');
    assert.ok(tagRun.manifests_copied >= 3, 'the index and its two children');
    assert.ok(tagRun.blobs_copied >= 5 && tagRun.bytes_copied > 500_000, JSON.stringify(tagRun));
    type Item = { reference: string; digest: string; result: string; referrers?: number };
    const detail = await expectJson<{ report: { repositories: Array<{ source: string; destination: string; items: Item[] }>; errors: string[] } }>(
      await source.api(`/replication/runs/${tagRun.id}`, { auth: { basic: admin } }),
      200,
    );
    const v1 = detail.report.repositories[0]!.items.find((i) => i.reference === 'v1')!;
    assert.deepEqual({ ...v1, referrers: undefined }, { reference: 'v1', digest: image.index.digest, result: 'copied', referrers: undefined });
    assert.deepEqual(detail.report.errors, []);
    await expectProblem(await source.api('/replication/runs', { auth: { basic: ['alice', PASSWORD] } }), 403, undefined, 'forbidden');
    await expectProblem(await source.api('/replication/runs/nope', { auth: { basic: admin } }), 404, /no replication run/, 'not-found');
  });

  it('skips blobs the target has and mounts blobs another repository there holds', async () => {
    // the same platform image under a new tag: every blob is at the target already
    await pushManifest(source.url, 'alice/app', 'v2', image.amd.manifest, image.amd.mediaType, { token: aliceToken });
    // in another repository: the blobs are mounted from alice/app there, not sent again
    await pushImage(source.url, 'alice/other', 'v1', { image: image.arm, token: aliceToken });
    await until('both runs', async () => {
      const runs = await runsOf(source, 'to-ref');
      const v2 = runs.find((r) => r.scope?.tags.includes('v2'));
      const other = runs.find((r) => r.scope?.repository === 'alice/other');
      return v2?.status === 'succeeded' && other?.status === 'succeeded' ? { v2, other } : undefined;
    }).then(({ v2, other }) => {
      assert.equal(v2.blobs_copied, 0, JSON.stringify(v2));
      assert.equal(v2.blobs_skipped, 3);
      assert.equal(other.blobs_copied, 0, `mounted, not copied: ${JSON.stringify(other)}`);
      assert.equal(other.bytes_copied, 0);
    });
    const detail = await expectJson<{ report: { blobs_mounted: number } }>(
      await source.api(`/replication/runs/${(await runsOf(source, 'to-ref')).find((r) => r.scope?.repository === 'alice/other')!.id}`, { auth: { basic: admin } }),
      200,
    );
    assert.equal(detail.report.blobs_mounted, 2);
    await assertManifest(site.url, 'alice/other', image.arm.digest, image.arm.manifest);
  });

  it('a pull rule copies from the reference registry on its schedule, referrers found through the fallback tag', async () => {
    const rule = await siteB.api('/replication/rules', {
      method: 'POST',
      auth: { basic: admin },
      json: { name: 'from-ref', direction: 'pull', url: site.url, repositories: ['alice/app'], tags: ['v1'], destination: 'mirror', interval_seconds: 3600 },
    });
    const created = await expectJson<{ next_run_at: string }>(rule, 201);
    assert.ok(Date.parse(created.next_run_at) <= Date.now(), 'a scheduled rule runs first at once');
    const [run] = await settled(siteB, 'from-ref');
    assert.equal(run!.trigger, 'schedule');
    assert.equal(run!.status, 'succeeded', JSON.stringify(run));
    const token = await tokenFor(siteB.url, { username: 'captain', secret: PASSWORD }, ['repository:mirror/alice/app:pull']);
    await assertMultiArch(siteB.url, 'mirror/alice/app', image, token);
    // the schedule moved on: no second run before its interval
    const after = await expectJson<{ next_run_at: string }>(await siteB.api('/replication/rules/from-ref', { auth: { basic: admin } }), 200);
    assert.ok(Date.parse(after.next_run_at) > Date.now() + 3000_000);
  });

  it('a run whose target is down fails, is retried, and succeeds once the target is back', async () => {
    const gate = await CountingProxy.start(site.url);
    await gate.stop();
    try {
      await expectJson(
        await source.api('/replication/rules', {
          method: 'POST',
          auth: { basic: admin },
          json: { name: 'to-down', direction: 'push', url: gate.url, repositories: ['alice/app'], tags: ['v1'], destination: 'later' },
        }),
        201,
      );
      const started = await expectJson<Run>(await source.api('/replication/rules/to-down/runs', { method: 'POST', auth: { basic: admin } }), 202);
      assert.equal(started.status, 'queued');
      const failed = await until('a failed attempt', async () => {
        const run = await expectJson<Run & { next_attempt_at: string | null }>(await source.api(`/replication/runs/${started.id}`, { auth: { basic: admin } }), 200);
        return run.attempts >= 1 && run.status === 'queued' && run.error ? run : undefined;
      });
      assert.match(failed.error!, /did not answer|connection refused/);
      assert.ok(failed.next_attempt_at);
      await gate.resume();
      const done = await until('the retry', async () => {
        const run = await expectJson<Run & { report: { previous_errors: string[] } }>(await source.api(`/replication/runs/${started.id}`, { auth: { basic: admin } }), 200);
        return run.status === 'succeeded' ? run : undefined;
      });
      assert.ok(done.attempts >= 2);
      assert.equal(done.error, null);
      assert.match(done.report.previous_errors[0]!, /^attempt 1: .*(did not answer|connection refused)/);
      await assertMultiArch(site.url, 'later/alice/app', image);
    } finally {
      await gate.close();
    }
  });

  it('pier replication list, run and status on the data directory', async () => {
    const data = source.dataDir;
    const added = await runPier(['replication', 'add', 'cli-copy', '--push', '--url', site.url, '--repository', 'alice/app', '--tag', 'v2', '--destination', 'cli', '--data', data]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added the replication rule cli-copy: copies alice\/app to http:\/\/127\.0\.0\.1:\d+ \(tags v2\) under cli\/ after each push/);
    const list = await runPier(['replication', 'list', '--data', data]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME +DIRECTION +REGISTRY/);
    assert.match(list.stdout, /\nto-b +push +http:\/\/127\.0\.0\.1:\d+ +alice\/\*\* +v\* +siteb +on push +yes\n/);
    assert.doesNotMatch(list.stdout, new RegExp(siteb.secret));

    const run = await runPier(['replication', 'run', 'cli-copy', '--data', data]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, / cli-copy {2}succeeded {2}manual {2}attempt 1 /);
    assert.match(run.stdout, /1 manifests and 3 blobs copied \(\d[\d.]* [kM]B\), 0 blobs already there/);
    assert.match(run.stdout, /alice\/app -> cli\/alice\/app: v2\n/);
    await assertManifest(site.url, 'cli/alice/app', image.amd.digest, image.amd.manifest);

    const status = await runPier(['replication', 'status', 'to-ref', '--data', data]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /to-ref {2}succeeded {2}push {2}attempt 1/);
    assert.match(status.stdout, /alice\/app -> alice\/app: v1 \+1 referrers/);

    const missing = await runPier(['replication', 'run', 'nope', '--data', data]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'pier: no replication rule "nope"\n');
    const usage = await runPier(['replication', 'add', 'x', '--url', site.url, '--repository', 'a/b', '--data', data]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^pier: say which way: --push/);
  });
});
