import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { jsonBytes, sha256 } from '../support/oci.js';

describe('/api/v1 on a server without token auth (PIER_AUTH=open)', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer({ 'auth.mode': 'open' });
    await createUser(server, 'alice');
  });
  after(() => server.stop());

  it('has no session tokens (POST /users/login): 501 with the reason (browser sessions work: api-sessions.test.ts)', async () => {
    assert.equal(server.auth, undefined);
    await expectProblem(await server.api('/users/login', { method: 'POST', json: { username: 'alice', password: PASSWORD } }), 501, /PIER_AUTH=open/);
  });

  it('takes Basic credentials, still throttled, and challenges with Basic', async () => {
    await expectJson(await server.api('/users/me', { auth: { basic: ['alice', PASSWORD] } }), 200);
    const res = await server.api('/users/me', { auth: { bearer: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' } });
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic /);
    await expectProblem(res, 401, /Basic/);
    for (let i = 0; i < 5; i++) await expectProblem(await server.api('/users/me', { auth: { basic: ['alice', `guess ${i}`] } }), 401);
    await expectProblem(await server.api('/users/me', { auth: { basic: ['alice', PASSWORD] } }), 429);
  });

  it('leaves /v2 bodies alone: a JSON-typed blob is stored as bytes, not parsed', async () => {
    const blob = jsonBytes({ not: 'parsed' });
    const res = await fetch(`${server.url}/v2/alice/app/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array(blob),
    });
    assert.equal(res.status, 201);
    const get = await fetch(`${server.url}/v2/alice/app/blobs/${sha256(blob)}`);
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), blob);
  });
});
