import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';

describe('GET /v2/ and /healthz', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('answers /v2/ with the API version header', async () => {
    const res = await fetch(`${server.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await res.json(), {});
  });

  it('answers /healthz', async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('answers unknown /v2 routes with an OCI envelope', async () => {
    const res = await fetch(`${server.url}/v2/alice/app/nothing/here`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { errors: Array<{ code: string }> };
    assert.equal(body.errors[0]!.code, 'UNSUPPORTED');
  });
});
