// Webhooks end to end over HTTP: a real receiver on loopback (allowed by the server's
// webhooks.allowNetworks) sees signed deliveries of pushes in order per repository, retries after
// it answers 500 (each attempt visible in the API), redeliveries, a rotated secret, organisation
// hooks with CloudEvents-style bodies, tags deleted through /v2 and the API, a plan without the feature refused, and a hook that keeps
// failing disabled with the reason. A server that allows nothing refuses loopback, link-local,
// private and metadata targets, and a name that resolves to loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, expectJson, expectProblem, PASSWORD, startApiServer, type ApiServer } from '../support/api.js';
import { tokenFor } from '../support/auth.js';
import { pushImage } from '../support/images.js';
import { testBackends } from '../support/server.js';
import { verifyPierSignature, WebhookReceiver } from '../support/webhook-receiver.js';

interface Hook {
  id: string;
  secret: string;
  active: boolean;
  disabled_reason: string | null;
}
interface Detail {
  deliveries: Array<{ id: string; status: string; attempts: number; error: string | null; attempt_list: Array<{ status_code: number | null; error: string | null; response_excerpt: string | null }> }>;
  active: boolean;
  disabled_reason: string | null;
}

const olive = { basic: ['olive', PASSWORD] as [string, string] };
const alice = { basic: ['alice', PASSWORD] as [string, string] };
const mark = { basic: ['mark', PASSWORD] as [string, string] };

for (const { backend, options } of await testBackends()) {
  describe(`webhooks (${backend})`, options, () => {
    let server: ApiServer;
    const receiver = new WebhookReceiver();
    let base = '';

    before(async () => {
      base = await receiver.start();
      server = await startApiServer(
        { 'webhooks.allowNetworks': '127.0.0.1/32', 'webhooks.retryDelay': '100ms', 'webhooks.retryFor': '2s', 'webhooks.disableAfter': 2 },
        { backend },
      );
      for (const name of ['olive', 'alice', 'mark']) await createUser(server, name);
      await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
      await server.hub.plans.apply('acme', 'team');
      await expectJson(await server.api('/orgs/acme/members', { method: 'POST', json: { username: 'mark' }, auth: olive }), 201);
    });
    after(async () => {
      await server?.stop();
      await receiver.stop();
    });

    // a repository's hooks are added once it exists (created here, before its first push)
    const addHook = async (path: string, body: Record<string, unknown>, auth = olive) => {
      const repository = /^\/repositories\/([^/]+\/[^/]+)\/webhooks$/.exec(path)?.[1];
      if (repository && !(await server.hub.repositories.visibility(repository)).exists) await server.hub.repositories.create(repository, false);
      return expectJson<Hook>(await server.api(path, { method: 'POST', json: body, auth }), 201);
    };

    it('delivers pushes signed, in order, Docker Hub’s payload with the digest', async () => {
      const hook = await addHook('/repositories/acme/app/webhooks', { name: 'ci', url: `${base}/ci`, events: ['push'] });
      assert.match(hook.secret, /^whsec_/);
      const pushed = [];
      for (const tag of ['v1', 'v2', 'v3']) pushed.push(await pushImage(server.registry, 'acme/app', tag));
      await receiver.until(() => receiver.at('/ci').length >= 3);
      const got = receiver.at('/ci');
      assert.deepEqual(got.map((r) => (JSON.parse(r.body) as { push_data: { tag: string } }).push_data.tag), ['v1', 'v2', 'v3']);
      for (const [i, r] of got.entries()) {
        assert.ok(verifyPierSignature(hook.secret, r.body, r.headers['x-pier-signature']), `signature of ${r.body}`);
        assert.equal(verifyPierSignature(hook.secret, `${r.body} `, r.headers['x-pier-signature']), false);
        assert.equal(r.headers['x-pier-event'], 'push');
        assert.equal(r.headers['content-type'], 'application/json');
        const body = JSON.parse(r.body) as { push_data: Record<string, unknown>; repository: Record<string, unknown>; callback_url: string };
        assert.equal(body.push_data.digest, pushed[i]!.digest);
        assert.equal(body.push_data.media_type, pushed[i]!.mediaType);
        assert.equal(body.push_data.pusher, 'test');
        assert.equal(typeof body.push_data.pushed_at, 'number');
        assert.equal(body.repository.repo_name, 'acme/app');
        assert.equal(body.repository.namespace, 'acme');
        assert.equal(body.repository.name, 'app');
        assert.equal(body.repository.is_private, false);
        assert.equal(body.repository.status, 'Active');
        assert.match(body.callback_url, /^http:\/\/127\.0\.0\.1:\d+\//);
      }
      assert.equal(new Set(got.map((r) => r.headers['x-pier-delivery'])).size, 3);
      // another repository's events do not reach this hook
      await pushImage(server.registry, 'acme/other', 'v1');
      const detail = await expectJson<Detail>(await server.api(`/repositories/acme/app/webhooks/${hook.id}`, { auth: olive }), 200);
      assert.equal(detail.deliveries.length, 3);
      assert.ok(detail.deliveries.every((d) => d.status === 'succeeded' && d.attempt_list[0]?.status_code === 200 && d.attempt_list[0]?.response_excerpt === 'thanks'));
    });

    it('retries after 500 with back-off, holding later events of the repository back; every attempt is recorded', async () => {
      receiver.answer = (path, seen) => (path === '/flaky' && seen < 2 ? 500 : 200);
      const hook = await addHook('/repositories/acme/flaky/webhooks', { name: 'flaky', url: `${base}/flaky`, events: ['push'] });
      await pushImage(server.registry, 'acme/flaky', 'one');
      await pushImage(server.registry, 'acme/flaky', 'two');
      await receiver.until(() => receiver.at('/flaky').length >= 4);
      const got = receiver.at('/flaky').map((r) => [(JSON.parse(r.body) as { push_data: { tag: string } }).push_data.tag, r.status]);
      assert.deepEqual(got, [
        ['one', 500],
        ['one', 500],
        ['one', 200],
        ['two', 200],
      ]);
      const ids = receiver.at('/flaky').map((r) => r.headers['x-pier-delivery']);
      assert.equal(ids[0], ids[2], 'a retry is the same delivery');
      const detail = await expectJson<Detail>(await server.api(`/repositories/acme/flaky/webhooks/${hook.id}`, { auth: olive }), 200);
      const first = detail.deliveries.find((d) => d.id === ids[0])!;
      assert.equal(first.status, 'succeeded');
      assert.deepEqual(first.attempt_list.map((a) => a.status_code), [500, 500, 200]);
      assert.equal(first.attempt_list[0]!.error, 'answered 500');
      assert.equal(first.attempt_list[0]!.response_excerpt, 'no: 500');
      assert.equal(detail.active, true);
    });

    it('delivers tags deleted through /v2 and through the API, with the tag and the digest it named', async () => {
      const hook = await addHook('/repositories/acme/tags/webhooks', { name: 'untag', url: `${base}/untag`, events: ['tag.deleted'] });
      const image = await pushImage(server.registry, 'acme/tags', 'a');
      await pushImage(server.registry, 'acme/tags', 'b', { image });
      assert.equal((await server.api('/repositories/acme/tags/tags/a', { method: 'DELETE', auth: olive })).status, 204);
      const token = await tokenFor(server.url, { username: 'olive', secret: PASSWORD }, ['repository:acme/tags:delete']);
      const res = await fetch(`${server.url}/v2/acme/tags/manifests/b`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 202);
      await receiver.until(() => receiver.at('/untag').length >= 2);
      const got = receiver.at('/untag');
      assert.deepEqual(got.map((r) => r.headers['x-pier-event']), ['tag.deleted', 'tag.deleted']);
      const bodies = got.map((r) => JSON.parse(r.body) as { type: string; subject: string; data: { tag: string; digest: string; actor: string } });
      assert.deepEqual(
        bodies.map((b) => [b.type, b.subject, b.data.tag, b.data.digest, b.data.actor]),
        [
          ['io.pier.tag.deleted', 'acme/tags', 'a', image.digest, 'olive'],
          ['io.pier.tag.deleted', 'acme/tags', 'b', image.digest, 'olive'],
        ],
      );
      assert.ok(got.every((r) => verifyPierSignature(hook.secret, r.body, r.headers['x-pier-signature'])));
    });

    it('redelivers by hand, and signs with a rotated secret from then on', async () => {
      const hook = await addHook('/repositories/acme/redo/webhooks', { name: 'redo', url: `${base}/redo`, events: ['push'] });
      await pushImage(server.registry, 'acme/redo', 'v1');
      await receiver.until(() => receiver.at('/redo').length >= 1);
      const rotated = await expectJson<{ secret: string }>(await server.api(`/repositories/acme/redo/webhooks/${hook.id}/secret`, { method: 'POST', auth: olive }), 200);
      assert.notEqual(rotated.secret, hook.secret);
      const original = receiver.at('/redo')[0]!;
      const again = await expectJson<{ id: string }>(
        await server.api(`/repositories/acme/redo/webhooks/${hook.id}/deliveries/${original.headers['x-pier-delivery']}/redeliver`, { method: 'POST', auth: olive }),
        202,
      );
      await receiver.until(() => receiver.at('/redo').length >= 2);
      const second = receiver.at('/redo')[1]!;
      assert.equal(second.headers['x-pier-delivery'], again.id);
      assert.equal(second.body, original.body);
      assert.ok(verifyPierSignature(rotated.secret, second.body, second.headers['x-pier-signature']));
      assert.equal(verifyPierSignature(hook.secret, second.body, second.headers['x-pier-signature']), false);
      await expectProblem(await server.api(`/repositories/acme/redo/webhooks/${hook.id}/deliveries/nope/redeliver`, { method: 'POST', auth: olive }), 404);
    });

    it('organisation hooks hear every repository: created, made private, deleted, in a CloudEvents-style envelope', async () => {
      const hook = await addHook('/orgs/acme/webhooks', { name: 'audit', url: `${base}/org`, events: ['repository.created', 'repository.visibility', 'repository.deleted'] });
      await expectJson(await server.api('/namespaces/acme/repositories', { method: 'POST', json: { name: 'fresh', is_private: false }, auth: olive }), 201);
      await expectJson(await server.api('/repositories/acme/fresh', { method: 'PATCH', json: { is_private: true }, auth: olive }), 200);
      await receiver.until(() => receiver.at('/org').length >= 2);
      const events = receiver.at('/org').map((r) => JSON.parse(r.body) as { specversion: string; type: string; id: string; time: string; subject: string; data: { repository: { is_private: boolean }; actor?: string } });
      assert.deepEqual(events.map((e) => e.type), ['io.pier.repository.created', 'io.pier.repository.visibility']);
      assert.ok(events.every((e) => e.specversion === '1.0' && e.subject === 'acme/fresh' && !Number.isNaN(Date.parse(e.time)) && e.id));
      assert.equal(events[1]!.data.repository.is_private, true);
      assert.equal(events[1]!.data.actor, 'olive');
      assert.deepEqual(receiver.at('/org').map((r) => r.headers['x-pier-event']), ['repository.created', 'repository.visibility']);
      assert.ok(verifyPierSignature(hook.secret, receiver.at('/org')[0]!.body, receiver.at('/org')[0]!.headers['x-pier-signature']));
    });

    it('lets repository admins and organisation owners manage hooks, nobody else; a plan without webhooks refuses them', async () => {
      // mark is a member without admin on the repository, and not an owner
      await expectProblem(await server.api('/repositories/acme/app/webhooks', { auth: mark }), 403);
      await expectProblem(await server.api('/orgs/acme/webhooks', { method: 'POST', json: { name: 'x', url: `${base}/x`, events: ['push'] }, auth: mark }), 403);
      await expectProblem(await server.api('/orgs/acme/webhooks', { auth: alice }), 403);
      const list = await expectJson<{ count: number }>(await server.api('/repositories/acme/app/webhooks', { auth: olive }), 200);
      assert.equal(list.count, 1);
      await server.hub.repositories.create('alice/mine', false);
      await expectProblem(await server.api('/repositories/alice/mine/webhooks', { method: 'POST', json: { name: 'x', url: `${base}/x`, events: ['push'] }, auth: alice }), 403, /needs the "webhooks" feature/, 'plan-limit');
    });

    it('disables a hook whose deliveries keep failing, with the reason; turning it on again clears it', async () => {
      receiver.answer = (path) => (path === '/down' ? 503 : 200);
      const hook = await addHook('/repositories/acme/down/webhooks', { name: 'down', url: `${base}/down`, events: ['push'] });
      await pushImage(server.registry, 'acme/down', 'a');
      await pushImage(server.registry, 'acme/down', 'b');
      const deadline = Date.now() + 20_000;
      let detail: Detail;
      do {
        await new Promise((resolve) => setTimeout(resolve, 200));
        detail = await expectJson<Detail>(await server.api(`/repositories/acme/down/webhooks/${hook.id}`, { auth: olive }), 200);
      } while (detail.active && Date.now() < deadline);
      assert.equal(detail.active, false);
      assert.match(detail.disabled_reason ?? '', /^disabled after 2 failed deliveries in a row; the last: answered 503$/);
      // retried for webhooks.retryFor from the event (the second one waited its turn behind the first)
      assert.deepEqual(detail.deliveries.map((d) => d.status), ['failed', 'failed']);
      assert.ok(detail.deliveries[1]!.attempts > 2, `the first delivery was tried ${detail.deliveries[1]!.attempts} times`);
      const on = await expectJson<Hook>(await server.api(`/repositories/acme/down/webhooks/${hook.id}`, { method: 'PATCH', json: { active: true }, auth: olive }), 200);
      assert.equal(on.active, true);
      assert.equal(on.disabled_reason, null);
      assert.equal((await server.api(`/repositories/acme/down/webhooks/${hook.id}`, { method: 'DELETE', auth: olive })).status, 204);
      await expectProblem(await server.api(`/repositories/acme/down/webhooks/${hook.id}`, { auth: olive }), 404);
    });
  });

  describe(`webhook targets (${backend})`, options, () => {
    let server: ApiServer;
    const receiver = new WebhookReceiver();
    let port = 0;

    before(async () => {
      await receiver.start();
      port = receiver.port;
      server = await startApiServer({}, { backend });
      await createUser(server, 'olive');
      await expectJson(await server.api('/orgs', { method: 'POST', json: { name: 'acme' }, auth: olive }), 201);
      await server.hub.plans.apply('acme', 'team');
      await server.hub.repositories.create('acme/app', false);
    });
    after(async () => {
      await server?.stop();
      await receiver.stop();
    });

    it('refuses loopback, link-local (metadata), private and unspecified addresses written in the URL', async () => {
      for (const url of [`http://127.0.0.1:${port}/`, 'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/', 'http://192.168.1.1/', 'http://[::1]/', 'http://0.0.0.0/', 'http://[::ffff:127.0.0.1]/']) {
        const problem = await expectProblem(await server.api('/repositories/acme/app/webhooks', { method: 'POST', json: { name: 'x', url, events: ['push'] }, auth: olive }), 400, /webhooks may not reach/);
        assert.equal(problem.errors?.[0]?.field, 'url', url);
      }
      await expectProblem(await server.api('/repositories/acme/app/webhooks', { method: 'POST', json: { name: 'x', url: 'file:///etc/passwd', events: ['push'] }, auth: olive }), 400);
    });

    it('refuses at delivery a name that resolves to loopback, never connecting, and disables the hook with the reason', async () => {
      const hook = await expectJson<Hook>(await server.api('/repositories/acme/app/webhooks', { method: 'POST', json: { name: 'x', url: `http://localhost:${port}/named`, events: ['push'] }, auth: olive }), 201);
      await pushImage(server.registry, 'acme/app', 'v1');
      const deadline = Date.now() + 20_000;
      let detail: Detail;
      do {
        await new Promise((resolve) => setTimeout(resolve, 100));
        detail = await expectJson<Detail>(await server.api(`/repositories/acme/app/webhooks/${hook.id}`, { auth: olive }), 200);
      } while (detail.active && Date.now() < deadline);
      assert.equal(detail.active, false);
      assert.match(detail.disabled_reason ?? '', /^localhost resolves to (127\.0\.0\.1|::1), a loopback address, which webhooks may not reach/);
      assert.equal(detail.deliveries[0]?.status, 'failed');
      assert.equal(detail.deliveries[0]?.attempt_list[0]?.status_code, null);
      assert.equal(receiver.received.length, 0);
    });
  });
}
