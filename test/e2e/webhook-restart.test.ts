// Webhook deliveries across a crash: a Pier process (the `pier serve` command) is killed with
// SIGKILL in the middle of delivering pushes to a receiver; another process over the same data
// directory and database delivers the rest. Nothing is lost, each repository's events keep their
// order, and a delivery is repeated only when it was in flight at the kill (the same
// X-Pier-Delivery: a receiver recognises it). Over SQLite and over PostgreSQL.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dropTestSchema, freshSchemaName, postgresTestUrl } from '../../src/metadata/postgres.testing.js';
import { loadConfig } from '../../src/server/config.js';
import { openCore } from '../../src/server/core.js';
import { pushImage } from '../support/images.js';
import { startReplica, type Replica } from '../support/replicas.js';
import { testBackends } from '../support/server.js';
import { verifyPierSignature, WebhookReceiver } from '../support/webhook-receiver.js';

const TAGS = Array.from({ length: 10 }, (_, i) => `v${i}`);
const REPOSITORIES = ['acme/app', 'acme/web'];

for (const { backend, options } of await testBackends()) {
  describe(`webhook deliveries across a SIGKILL (${backend})`, { ...options, timeout: 5 * 60_000 }, () => {
    const receiver = new WebhookReceiver();
    let dir = '';
    const schema = backend === 'postgres' ? freshSchemaName('whk') : undefined;
    const replicas: Replica[] = [];

    after(async () => {
      for (const replica of replicas) await replica.kill();
      await receiver.stop();
      if (schema) await dropTestSchema(schema);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('delivers every push once it succeeded, in order per repository, after a restart', async () => {
      const base = await receiver.start();
      dir = await mkdtemp(join(tmpdir(), 'pier-webhook-kill-'));
      const env: Record<string, string> = {
        PIER_DATA: dir,
        PIER_AUTH: 'open',
        PIER_STORAGE_FSYNC: 'false',
        PIER_WEBHOOK_ALLOW_NETWORKS: '127.0.0.1/32',
        PIER_WEBHOOK_TIMEOUT: '2s',
        PIER_WEBHOOK_RETRY_DELAY: '200ms',
        ...(schema ? { PIER_DATABASE_URL: postgresTestUrl(schema) } : {}),
      };
      // an organisation on a plan with webhooks, and a hook on it, prepared as the commands would
      const core = await openCore(loadConfig({ env, overrides: {} }));
      let secret: string;
      try {
        await core.hub.accounts.create({ name: 'olive', password: 'olive-password-1' });
        await core.hub.organizations.create('acme', 'olive');
        await core.hub.plans.apply('acme', 'team');
        secret = (await core.webhooks.hooks.create({ kind: 'organization', name: 'acme' }, { name: 'ci', url: `${base}/hook`, events: ['push'] }, 'olive')).secret;
      } finally {
        await core.close();
      }
      // slow answers, so that the kill finds deliveries queued and in flight
      receiver.delayMs = 150;

      const first = await startReplica('first', env);
      replicas.push(first);
      for (const tag of TAGS) for (const repository of REPOSITORIES) await pushImage(first.url, repository, tag);
      await receiver.until(() => receiver.received.length >= 3, 60_000);
      await first.kill();
      const atKill = receiver.received.length;
      assert.ok(atKill < TAGS.length * REPOSITORIES.length, `everything was delivered before the kill (${atKill}): nothing was tested`);

      const second = await startReplica('second', env);
      replicas.push(second);
      const key = (r: { body: string }) => {
        const body = JSON.parse(r.body) as { repository: { repo_name: string }; push_data: { tag: string } };
        return `${body.repository.repo_name}:${body.push_data.tag}`;
      };
      await receiver.until(() => new Set(receiver.received.map(key)).size === TAGS.length * REPOSITORIES.length, 120_000);
      // late duplicates would come now
      await new Promise((resolve) => setTimeout(resolve, 1500));

      for (const r of receiver.received) assert.ok(verifyPierSignature(secret, r.body, r.headers['x-pier-signature']), 'every delivery is signed');
      for (const repository of REPOSITORIES) {
        const firstSeen = [...new Set(receiver.received.map(key).filter((k) => k.startsWith(`${repository}:`)))];
        assert.deepEqual(firstSeen, TAGS.map((tag) => `${repository}:${tag}`), `the order of ${repository}`);
      }
      // each event is one delivery; a delivery comes twice only when the kill found it in flight:
      // at most one per repository (the next waits for it), and with the same id
      const byEvent = new Map<string, Set<string>>();
      for (const r of receiver.received) byEvent.set(key(r), (byEvent.get(key(r)) ?? new Set()).add(r.headers['x-pier-delivery']!));
      assert.ok([...byEvent.values()].every((ids) => ids.size === 1), 'one delivery id per event');
      const repeated = receiver.received.length - byEvent.size;
      assert.ok(repeated <= REPOSITORIES.length, `${repeated} deliveries were repeated`);
    });
  });
}
