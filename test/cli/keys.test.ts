import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runPier } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('pier keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token' });
  });
  after(() => server.stop());

  it('rotates the signing key of a running server; tokens signed before still verify', async () => {
    const before = await (await fetch(`${server.url}/token?service=pier`)).json() as { token: string };
    const list = await runPier(['keys', 'list', '--data', server.dataDir]);
    assert.equal(list.code, 0, list.stderr);
    const [first] = list.stdout.trim().split('\n');
    assert.match(first!, /\(signing\)$/);

    const rotate = await runPier(['keys', 'rotate', '--data', server.dataDir]);
    assert.equal(rotate.code, 0, rotate.stderr);
    const kid = rotate.stdout.trim();
    const after = await runPier(['keys', 'list', '--data', server.dataDir]);
    assert.equal(after.stdout.trim().split('\n').length, 2);
    assert.ok(after.stdout.includes(`${kid}  (signing)`));

    // the running server picks the new key up (a token it did not sign is verified after a reload)
    await server.auth!.keyRing.reload();
    const jwks = (await (await fetch(`${server.url}/token/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), after.stdout.trim().split('\n').map((l) => l.split(' ')[0]).sort());
    const res = await fetch(`${server.url}/v2/`, { headers: { authorization: `Bearer ${before.token}` } });
    assert.equal(res.status, 200, 'a token signed with the old key still verifies');
  });
});
