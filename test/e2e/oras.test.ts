// An ORAS client built on Debian's oras-go library (test/clients/oras) against an in-process Pier,
// open and with token auth: it pushes an artifact with an artifactType, a referrer whose subject
// is that artifact, lists the referrers back (all, and filtered by artifactType) and fetches both.
// Without Go or the library the suite is skipped, except under CI=true where it fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { tokenFor } from '../support/auth.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { ACCEPT_ALL } from '../support/images.js';
import { MT } from '../support/oci.js';
import { buildOrasClient, findOrasToolchain, runOrasClient, type OrasResult } from '../support/oras.js';
import { startTestServer, type TestServer } from '../support/server.js';

const toolchain = await findOrasToolchain();
const ARTIFACT = 'application/vnd.pier.test.artifact';
const SIGNATURE = 'application/vnd.pier.test.signature';

describe('an ORAS client (oras-go from Debian) against Pier', { ...skipUnless(toolchain), timeout: 15 * 60_000 }, () => {
  let client: string;

  before(async () => {
    client = await buildOrasClient(requireTool(toolchain));
  });

  /** Runs the client, checks what it reports against what Pier stored, and returns the report. */
  async function pushAndCheck(server: TestServer, repository: string, login: { username?: string; password?: string }, token?: string): Promise<OrasResult> {
    const content = `hello from oras ${randomBytes(6).toString('hex')}`;
    const run = await runOrasClient(client, { registry: new URL(server.url).host, repository, content, ...login });
    assert.equal(run.code, 0, `the client failed:\n${run.stderr}`);
    const result = JSON.parse(run.stdout) as OrasResult;
    assert.equal(result.fetchedFile, content, 'the artifact fetched back is the one pushed');
    assert.equal(result.fetchedSignature, `signed: ${result.artifact}`);
    const referrer = { mediaType: MT.OciManifest, digest: result.referrer, artifactType: SIGNATURE };
    assert.deepEqual(result.referrers.manifests, [referrer], 'the referrers API lists the referrer with its artifactType');
    assert.deepEqual(result.signatures.manifests, [referrer], 'and filters by artifactType');

    // what Pier stored: the artifact under its tag, with its artifactType; the referrer by digest, with its subject
    const headers: Record<string, string> = { accept: ACCEPT_ALL, ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const tagged = await fetch(`${server.url}/v2/${repository}/manifests/v1`, { headers });
    assert.equal(tagged.status, 200);
    assert.equal(tagged.headers.get('docker-content-digest'), result.artifact);
    assert.equal(((await tagged.json()) as { artifactType?: string }).artifactType, ARTIFACT);
    const signature = await fetch(`${server.url}/v2/${repository}/manifests/${result.referrer}`, { headers });
    assert.equal(signature.status, 200);
    assert.equal(((await signature.json()) as { subject?: { digest: string } }).subject?.digest, result.artifact);
    const none = await fetch(`${server.url}/v2/${repository}/referrers/${result.artifact}?artifactType=application/vnd.other`, { headers });
    assert.deepEqual(((await none.json()) as { manifests: unknown[] }).manifests, []);
    return result;
  }

  describe('open', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(() => server?.stop());

    it('pushes an artifact and a referrer, lists the referrers and fetches both', async () => {
      await pushAndCheck(server, 'test/oras', {});
    });
  });

  describe('with token auth', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ 'auth.mode': 'token' });
      await server.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
      await server.hub.accounts.create({ name: 'bob', password: 'bob-password-1' });
    });
    after(() => server?.stop());

    it('logs in with a password, pushes to its namespace, lists the referrers and fetches both', async () => {
      const token = await tokenFor(server.url, { username: 'alice', secret: 'alice-password-1' }, ['repository:alice/oras:pull']);
      await pushAndCheck(server, 'alice/oras', { username: 'alice', password: 'alice-password-1' }, token);
    });

    it('fails with a wrong password, and pushes nothing into another namespace', async () => {
      const host = new URL(server.url).host;
      const wrong = await runOrasClient(client, { registry: host, repository: 'alice/nope', content: 'x', username: 'alice', password: 'wrong-password' });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /401 Unauthorized/);
      const elsewhere = await runOrasClient(client, { registry: host, repository: 'bob/oras', content: 'x', username: 'alice', password: 'alice-password-1' });
      assert.notEqual(elsewhere.code, 0);
      assert.match(elsewhere.stderr, /insufficient_scope: authorization failed/, 'the token it got does not allow the push');
      assert.equal((await server.hub.repositories.visibility('bob/oras')).exists, false);
    });
  });
});
