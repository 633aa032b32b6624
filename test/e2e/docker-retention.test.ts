// Retention with the real docker CLI (issue 11): docker pushes four tags; a policy keeping the
// last two, applied by `pier retention run` beside the running server, deletes the two oldest:
// docker can no longer pull them, the kept ones pull, and each deletion left its tag.deleted event
// (with the reason) in the outbox and an audit entry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { startTestServer, type TestServer } from '../support/server.js';

const daemon = await findDockerDaemon();

describe('retention with docker', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  const refs = new Set<string>();

  before(async () => {
    server = await startTestServer();
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
  });

  after(async () => {
    await docker?.cleanup(refs);
    await server?.stop();
  });

  it('keep_last 2: the two oldest tags go, docker pulls the others and fails on those', async () => {
    const ref = (tag: string) => `${registry}/library/kept:${tag}`;
    for (const tag of ['one', 'two', 'three', 'four']) {
      refs.add(ref(tag));
      await docker.buildImage({ 'data.bin': randomBytes(10_000) }, ref(tag));
      await docker.ok(['push', ref(tag)]);
    }
    // the official namespace has every plan feature
    const set = await runPier(['retention', 'set', 'library/kept', '--keep-last', '2', '--data', server.dataDir]);
    assert.equal(set.code, 0, set.stderr);
    const dry = await runPier(['retention', 'run', 'library/kept', '--dry-run', '--data', server.dataDir]);
    assert.match(dry.stdout, /would delete 2 tags, kept 2\n {2}- two {2}not among the 2 most recently pushed \(#3\)\n {2}- one /);
    const run = await runPier(['retention', 'run', 'library/kept', '--data', server.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^library\/kept \(policy of the repository\): deleted 2 tags, kept 2\n/);

    await docker.ok(['rmi', ...refs]);
    for (const tag of ['one', 'two']) {
      const pull = await docker.run(['pull', ref(tag)]);
      assert.notEqual(pull.code, 0, `${tag} was deleted: ${pull.stdout}`);
      assert.match(pull.stdout + pull.stderr, /not found|unknown/i);
    }
    for (const tag of ['three', 'four']) await docker.ok(['pull', ref(tag)]);

    const events = await server.database.db.selectFrom('outbox').select('payload').where('type', '=', 'tag.deleted').execute();
    const payloads = events.map((e) => JSON.parse(e.payload) as { repository: string; tag: string; reason: string });
    assert.deepEqual(payloads.map((p) => p.tag).sort(), ['one', 'two']);
    assert.ok(payloads.every((p) => p.repository === 'library/kept' && p.reason.startsWith('the retention policy of library/kept: ')));
    const audit = await server.database.db.selectFrom('audit_events').select(['target', 'via']).where('action', '=', 'tag.deleted').orderBy('target').execute();
    assert.deepEqual(audit, [{ target: 'library/kept:one', via: 'retention' }, { target: 'library/kept:two', via: 'retention' }]);
  });
});
