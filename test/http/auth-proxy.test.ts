/** Client addresses come from X-Forwarded-For only behind a configured proxy (PIER_TRUST_PROXY). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';

describe('forwarded client addresses', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ 'auth.mode': 'token', 'auth.loginFailures': 2 });
    await server.hub.accounts.create({ name: 'alice', password: 'alice-password-1' });
  });
  after(() => server.stop());

  const wrongLogin = (forwardedFor: string) =>
    fetch(`${server.url}/token?service=pier`, {
      headers: { authorization: `Basic ${Buffer.from('alice:wrong-password').toString('base64')}`, 'x-forwarded-for': forwardedFor },
    });

  it('are not believed when no proxy is trusted: a new X-Forwarded-For does not reset the throttle', async () => {
    assert.equal((await wrongLogin('198.51.100.1')).status, 401);
    assert.equal((await wrongLogin('198.51.100.2')).status, 401);
    const third = await wrongLogin('198.51.100.3');
    assert.equal(third.status, 429, 'every attempt came from 127.0.0.1, whatever the header says');
    assert.ok(Number(third.headers.get('retry-after')) > 0);
  });
});
