// What operators watch, end to end with the real docker CLI: /metrics scraped around a docker
// push and pull shows the counters moving; every answer carries X-Request-Id and the server's log
// lines of a request carry the same id; and the logs of the whole run (at debug level) hold none
// of the secrets it used: passwords, personal access tokens, session and refresh tokens, webhook
// secrets, the metrics token.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DockerClient, findDockerDaemon } from '../support/docker.js';
import { requireTool, skipUnless } from '../support/exec.js';
import { sample, scrape } from '../support/prometheus.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const daemon = await findDockerDaemon();
const METRICS_TOKEN = `metrics-${randomBytes(12).toString('hex')}`;
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
const NEW_PASSWORD = `pw2-${randomBytes(9).toString('hex')}`;

describe('observability with docker', { ...skipUnless(daemon), timeout: 20 * 60_000 }, () => {
  let server: TestServer;
  let docker: DockerClient;
  let registry: string;
  const receiver = new WebhookReceiver();
  const refs = new Set<string>();
  let logs = '';
  const secrets: string[] = [PASSWORD, NEW_PASSWORD, METRICS_TOKEN];

  before(async () => {
    const base = await receiver.start();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs += chunk.toString('utf8');
        done();
      },
    });
    server = await startTestServer(
      { 'auth.mode': 'token', 'metrics.enabled': true, 'metrics.token': METRICS_TOKEN, 'webhooks.allowNetworks': '127.0.0.1/32' },
      { logger: pino({ level: 'debug' }, sink) },
    );
    registry = new URL(server.url).host;
    docker = await DockerClient.create(requireTool(daemon));
    await server.hub.accounts.create({ name: 'alice', password: PASSWORD });
    await server.hub.plans.apply('alice', 'team');
    await server.hub.repositories.create('alice/app', false);
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    const hook = await fetch(`${server.url}/api/v1/repositories/alice/app/webhooks`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci', url: `${base}/ci`, events: ['push'] }),
    });
    assert.equal(hook.status, 201);
    const { id, secret } = (await hook.json()) as { id: string; secret: string };
    secrets.push(secret);
    const rotated = await fetch(`${server.url}/api/v1/repositories/alice/app/webhooks/${id}/secret`, { method: 'POST', headers: { authorization: basic } });
    secrets.push(((await rotated.json()) as { secret: string }).secret);
    const pat = await fetch(`${server.url}/api/v1/users/me/tokens`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'ci', scopes: ['repo:write'] }),
    });
    secrets.push(((await pat.json()) as { token: string }).token);
    const session = await fetch(`${server.url}/api/v1/users/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
    secrets.push(((await session.json()) as { token: string }).token);
    const refresh = await fetch(`${server.url}/token?service=pier&offline_token=true&client_id=test`, { headers: { authorization: basic } });
    secrets.push(((await refresh.json()) as { refresh_token: string }).refresh_token);
  });

  after(async () => {
    await docker?.cleanup(refs);
    await server?.stop();
    await receiver.stop();
  });

  it('shows /metrics counters moving during a docker push and pull', async () => {
    const ref = `${registry}/alice/app:v1`;
    refs.add(ref);
    await docker.buildImage({ 'data.bin': randomBytes(300_000) }, ref);
    const before = await scrape(server.url, METRICS_TOKEN);
    await docker.ok(['login', '--username', 'alice', '--password-stdin', registry], { input: PASSWORD });
    await docker.ok(['push', ref]);
    const pushed = await scrape(server.url, METRICS_TOKEN);
    await docker.ok(['rmi', ref]);
    await docker.ok(['pull', ref]);
    await receiver.until(() => receiver.at('/ci').length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await scrape(server.url, METRICS_TOKEN);
    const moved = (from: string, to: string, name: string, labels: Record<string, string> = {}) => sample(to, name, labels) - sample(from, name, labels);

    assert.equal(moved(before, pushed, 'pier_http_requests_total', { kind: 'v2_manifest_push', method: 'PUT', status: '201' }), 1);
    assert.ok(moved(before, pushed, 'pier_http_received_bytes_total', { kind: 'v2_upload' }) > 300_000, 'the layer came in');
    assert.ok(moved(before, pushed, 'pier_refusals_total', { reason: 'auth' }) >= 1, 'docker is asked to authenticate first');
    assert.ok(moved(pushed, after, 'pier_pulls_total') >= 1);
    assert.ok(moved(pushed, after, 'pier_http_sent_bytes_total', { kind: 'v2_blob' }) > 300_000, 'the layer went out');
    assert.ok(moved(before, after, 'pier_http_request_duration_seconds_count', { kind: 'token' }) >= 2);
    assert.equal(moved(before, after, 'pier_webhook_deliveries_total', { result: 'succeeded' }), 1);
    assert.equal(sample(after, 'pier_uploads_in_flight'), 0);
  });

  it('answers with X-Request-Id, the id of the request’s log lines', async () => {
    const res = await fetch(`${server.url}/api/v1/users/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'wrong-one' }) });
    assert.equal(res.status, 401);
    const id = res.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    const given = await fetch(`${server.url}/v2/`, { headers: { 'x-request-id': 'proxy-abc.123' } });
    assert.equal(given.headers.get('x-request-id'), 'proxy-abc.123');
    const forged = await fetch(`${server.url}/v2/`, { headers: { 'x-request-id': 'a b {c}' } });
    assert.match(forged.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    // a request that logs (a webhook added) logs with its id
    const hook = await fetch(`${server.url}/api/v1/repositories/alice/app/webhooks`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'other', url: 'http://127.0.0.1:9/', events: ['push'] }),
    });
    assert.equal(hook.status, 201);
    secrets.push(((await hook.json()) as { secret: string }).secret);
    const hookId = hook.headers.get('x-request-id')!;
    const lines = logs.split('\n').filter((line) => line.includes('webhook added'));
    assert.ok(lines.some((line) => (JSON.parse(line) as { reqId?: string }).reqId === hookId), lines.join('\n'));
  });

  it('logs none of the secrets it used', async () => {
    const password = await fetch(`${server.url}/api/v1/users/me/password`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: PASSWORD, new_password: NEW_PASSWORD }),
    });
    assert.ok(password.status < 300, `password change: ${password.status} ${await password.text()}`);
    assert.ok(logs.length > 1000, 'the run logged');
    for (const secret of secrets) {
      assert.ok(secret && secret.length >= 16, `a secret of the run: ${secret}`);
      assert.ok(!logs.includes(secret), `a secret is in the logs: ${secret.slice(0, 6)}…`);
    }
  });
});
