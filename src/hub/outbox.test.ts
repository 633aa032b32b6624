import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MetadataDatabase } from '../metadata/database.js';
import { appendOutbox } from '../metadata/outbox.js';
import { testDatabases } from '../metadata/postgres.testing.js';
import { RegistryIndex } from '../metadata/registry-index.js';
import { OutboxDispatcher, type OutboxMessage } from './outbox.js';
import { RepositoryService } from './repositories.js';

class Clock {
  t = Date.parse('2030-01-01T00:00:00Z');
  now(): number {
    return this.t;
  }
}

function manifest(n: number) {
  const content = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', n }));
  return { content, digest: `sha256:${createHash('sha256').update(content).digest('hex')}` };
}

for (const database of await testDatabases()) {
  describe(`outbox (${database.name})`, database.options, () => {
    let db: MetadataDatabase;
    let index: RegistryIndex;
    const clock = new Clock();
    let n = 0;

    before(async () => {
      db = await database.open();
      index = new RegistryIndex(db.db);
    });
    after(() => db?.close());

    const push = async (repository: string) => {
      const m = manifest(n++);
      const stored = await index.putManifest({
        repository,
        digest: m.digest,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        content: m.content,
        references: [],
        tags: ['v1'],
        now: clock.now(),
        actor: 'alice',
      });
      assert.deepEqual(stored.missing, []);
      return m.digest;
    };
    /** Delivers everything left by earlier tests, so each test sees its own rows only. */
    const drain = () => new OutboxDispatcher(db.db, clock, { claimMs: 0 }).deliver();

    it('a manifest pushed or deleted writes its event in the same transaction; a refused push writes none', async () => {
      await drain();
      const digest = await push('alice/app');
      clock.t += 1; // delivered in the order written (by time)
      assert.equal(await index.deleteManifest('alice/app', digest, { now: clock.now(), actor: 'alice' }), true);
      const refused = await index.putManifest({
        repository: 'alice/app',
        digest: manifest(n++).digest,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        content: Buffer.from('{}'),
        references: [{ digest: `sha256:${'0'.repeat(64)}`, kind: 'blob' }],
        tags: [],
        now: clock.now(),
      });
      assert.equal(refused.missing.length, 1);

      const seen: OutboxMessage[] = [];
      const dispatcher = new OutboxDispatcher(db.db, clock);
      dispatcher.subscribe((message) => void seen.push(message));
      assert.equal(await dispatcher.pending(), 2);
      assert.equal(await dispatcher.deliver(), 2);
      assert.deepEqual(
        seen.map((m) => [m.type, m.payload]),
        [
          ['manifest.pushed', { repository: 'alice/app', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifest(n - 2).content.length, tags: ['v1'], actor: 'alice' }],
          ['manifest.deleted', { repository: 'alice/app', digest, actor: 'alice' }],
        ],
      );
      assert.equal(await dispatcher.pending(), 0);
      assert.equal(await dispatcher.deliver(), 0, 'delivered once');
    });

    it('a repository created by a first push writes its event with the row; a refusal by the plan writes its removal', async () => {
      await drain();
      const repositories = new RepositoryService(db.db, clock);
      assert.deepEqual(await repositories.ensure('carol/new'), { created: true, private: false });
      assert.deepEqual(await repositories.ensure('carol/new'), { created: false, private: false }, 'created once');
      const seen: OutboxMessage[] = [];
      const dispatcher = new OutboxDispatcher(db.db, clock);
      dispatcher.subscribe((message) => void seen.push(message));
      assert.equal(await dispatcher.deliver(), 1);
      assert.deepEqual(seen.map((m) => [m.type, m.payload]), [['repository.created', { repository: 'carol/new', namespace: 'carol', private: false }]]);
    });

    it('a crash between the change and its delivery loses nothing: the rows wait, and a claim that ends is taken over', async () => {
      await drain();
      await push('alice/crash');
      await push('alice/crash');
      // the process dies before any delivery: the rows are simply there for the next one
      const crashed = new OutboxDispatcher(db.db, clock, { claimMs: 30_000 });
      crashed.subscribe(() => {
        throw new Error('the replica dies in the middle of a delivery');
      });
      const failures: unknown[] = [];
      crashed.start(3600_000, (error) => failures.push(error));
      assert.equal(await crashed.deliver(), 0);
      await crashed.stop();
      assert.equal(failures.length, 2);
      assert.equal(await crashed.pending(), 2, 'claimed, not delivered');

      const seen: string[] = [];
      const next = new OutboxDispatcher(db.db, clock);
      next.subscribe((message) => void seen.push(message.id));
      assert.equal(await next.deliver(), 0, 'another replica waits for the claim to end');
      clock.t += 31_000; // a claim lasts claimMs, and up to a second more
      assert.equal(await next.deliver(), 2);
      assert.equal(new Set(seen).size, 2);
      assert.equal(await next.pending(), 0);
    });

    it('replicas delivering at once hand each row to exactly one of them', async () => {
      await drain();
      for (let i = 0; i < 60; i++) await appendOutbox(db.db, { type: 'test.event', payload: { i } }, clock.now() + i);
      const seen: number[] = [];
      const replicas = [0, 1, 2].map(() => {
        const dispatcher = new OutboxDispatcher(db.db, clock, { batchSize: 7 });
        dispatcher.subscribe((message) => void seen.push(message.payload.i as number));
        return dispatcher;
      });
      const counts = await Promise.all(replicas.map((r) => r.deliver()));
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        60,
      );
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        Array.from({ length: 60 }, (_, i) => i),
        'every row once',
      );
    });

    it('a subscriber removed gets nothing more; delivered rows are removed after the retention', async () => {
      await drain();
      const seen: string[] = [];
      const dispatcher = new OutboxDispatcher(db.db, clock, { retentionMs: 3600_000 });
      const unsubscribe = dispatcher.subscribe((message) => void seen.push(message.type));
      await appendOutbox(db.db, { type: 'first', payload: {} }, clock.now());
      await dispatcher.deliver();
      unsubscribe();
      await appendOutbox(db.db, { type: 'second', payload: {} }, clock.now());
      await dispatcher.deliver();
      assert.deepEqual(seen, ['first']);
      const rows = async () => Number((await db.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      assert.ok((await rows()) >= 2);
      clock.t += 3600_000 + 60_001;
      await appendOutbox(db.db, { type: 'third', payload: {} }, clock.now());
      await dispatcher.deliver();
      assert.equal(await rows(), 1, 'only the row delivered just now is kept');
    });
  });
}

describe('outbox of a running server', () => {
  it('delivers a pushed manifest\'s event to a subscriber, written with the manifest', async () => {
    const { startTestServer } = await import('../../test/support/server.js');
    const { makeImage, pushImage } = await import('../../test/support/images.js');
    const server = await startTestServer();
    try {
      const seen: OutboxMessage[] = [];
      server.hub.outbox.subscribe((message) => void seen.push(message));
      const image = makeImage({ layers: 1, layerBytes: 100 });
      await pushImage(server.url, 'alice/outbox', 'v1', { image });
      await server.hub.outbox.deliver();
      const pushed = seen.filter((m) => m.type === 'manifest.pushed' && m.payload.repository === 'alice/outbox');
      assert.equal(pushed.length, 1);
      assert.deepEqual(pushed[0]!.payload.digest, image.digest);
      assert.deepEqual(pushed[0]!.payload.tags, ['v1']);
      assert.equal(await server.hub.outbox.pending(), 0);
    } finally {
      await server.stop();
    }
  });
});
