// /metrics: off by default; on, behind its bearer token, the counters of a push and a pull move
// (requests by route kind and status, latency, bytes in and out, pulls), and so do refusals by
// reason (a plan's limit apart from a permission), failed sign-ins, webhook deliveries and the
// outbox's gauges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { bearer, tokenFor, tokenGet } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { sample, scrape } from '../support/prometheus.js';
import { startTestServer, testBackends } from '../support/server.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const TOKEN = 'metrics-token-0123456789';

for (const { backend, options } of await testBackends()) {
  describe(`metrics (${backend})`, options, () => {
    let server: ApiServer;
    const receiver = new WebhookReceiver();
    let base = '';

    before(async () => {
      base = await receiver.start();
      server = await startApiServer({ 'metrics.enabled': true, 'metrics.token': TOKEN, 'webhooks.allowNetworks': '127.0.0.1/32' }, { backend });
      await createUser(server, 'alice');
      await createUser(server, 'bob');
      await server.hub.plans.apply('alice', 'team');
    });
    after(async () => {
      await server?.stop();
      await receiver.stop();
    });

    it('is off unless enabled', async () => {
      const plain = await startTestServer({}, { backend });
      try {
        assert.equal((await fetch(`${plain.url}/metrics`)).status, 404);
      } finally {
        await plain.stop();
      }
    });

    it('needs the bearer token', async () => {
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }]) {
        const res = await fetch(`${server.url}/metrics`, { headers });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    });

    it('shows the counters of a push and a pull moving, with refusals, failed sign-ins and webhook deliveries', async () => {
      await server.hub.repositories.create('alice/app', false);
      await expectJson(await server.api('/repositories/alice/app/webhooks', { method: 'POST', json: { name: 'ci', url: `${base}/ci`, events: ['push'] }, auth: { basic: ['alice', PASSWORD] } }), 201);
      const before = await scrape(server.url, TOKEN);
      const token = await tokenFor(server.url, { username: 'alice', secret: PASSWORD }, ['repository:alice/app:pull,push']);
      const image = await pushImage(server.url, 'alice/app', 'v1', { token, layerBytes: 200_000 });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/v2/alice/app/manifests/v1`, { headers: { ...bearer(token), accept: image.mediaType } });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      const layer = image.layers[0]!;
      const blob = await fetch(`${server.url}/v2/alice/app/blobs/${layer.digest}`, { headers: bearer(token) });
      assert.equal((await blob.arrayBuffer()).byteLength, layer.size);
      assert.equal((await fetch(`${server.url}/v2/alice/app/manifests/v1`)).status, 401);
      assert.equal((await tokenGet(server.url, { login: { username: 'alice', secret: 'wrong' } })).status, 401);
      await receiver.until(() => receiver.at('/ci').length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const after = await scrape(server.url, TOKEN);

      const moved = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
      assert.equal(moved('pier_pulls_total'), 3);
      assert.equal(moved('pier_http_requests_total', { kind: 'v2_manifest_push', method: 'PUT', status: '201' }), 1);
      assert.ok(moved('pier_http_requests_total', { kind: 'v2_upload' }) >= 2);
      assert.ok(moved('pier_http_request_duration_seconds_count', { kind: 'v2_manifest', method: 'GET' }) >= 4);
      assert.ok(moved('pier_http_received_bytes_total', { kind: 'v2_upload' }) > layer.size, 'the layer came in');
      assert.ok(moved('pier_http_sent_bytes_total', { kind: 'v2_blob' }) > layer.size, 'the layer went out');
      assert.ok(moved('pier_refusals_total', { reason: 'auth', kind: 'v2_manifest' }) >= 1);
      assert.equal(moved('pier_login_failures_total', { endpoint: 'token' }), 1);
      assert.equal(moved('pier_webhook_deliveries_total', { result: 'succeeded' }), 1);
      assert.equal(sample(after, 'pier_uploads_in_flight'), 0);
      assert.match(after, /^pier_outbox_pending \d+$/m);
      assert.match(after, /^pier_outbox_lag_seconds [\d.e+-]+$/m);
      assert.match(after, /^pier_process_resident_memory_bytes \d+/m);
      // the token is a secret: not in the page it protects
      assert.ok(!after.includes(TOKEN));
    });

    it('tells refusals by a plan from permissions denied', async () => {
      const bob = { basic: ['bob', PASSWORD] as [string, string] };
      await server.hub.repositories.create('alice/open', false);
      // two private repositories, then the free plan (one): bob is over its limit, p2 read-only
      await server.hub.plans.apply('bob', 'team');
      for (const name of ['p1', 'p2']) await expectJson(await server.api('/namespaces/bob/repositories', { method: 'POST', json: { name, is_private: true }, auth: bob }), 201);
      await server.hub.plans.apply('bob', 'free');
      const before = await scrape(server.url, TOKEN);
      await expectProblem(await server.api('/namespaces/bob/repositories', { method: 'POST', json: { name: 'p3', is_private: true }, auth: bob }), 403, undefined, 'plan-limit');
      const token = await tokenFor(server.url, { username: 'bob', secret: PASSWORD }, ['repository:bob/p2:pull,push']);
      const push = await fetch(`${server.url}/v2/bob/p2/blobs/uploads/`, { method: 'POST', headers: bearer(token) });
      assert.equal(push.status, 403, await push.text());
      await expectProblem(await server.api('/repositories/alice/open', { method: 'PATCH', json: { description: 'mine now' }, auth: bob }), 403, undefined, 'forbidden');
      const after = await scrape(server.url, TOKEN);
      const moved = (labels: Record<string, string>) => sample(after, 'pier_refusals_total', labels) - sample(before, 'pier_refusals_total', labels);
      assert.equal(moved({ reason: 'plan', kind: 'api' }), 1);
      assert.equal(moved({ reason: 'plan', kind: 'v2_upload' }), 1);
      assert.equal(moved({ reason: 'permission', kind: 'api' }), 1);
      assert.equal(moved({ reason: 'permission', kind: 'v2_upload' }), 0);
    });
  });
}
