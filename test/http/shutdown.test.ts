import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyOf, pushBlob, randomBlob, uniqueName } from '../support/oci.js';
import { startTestServer } from '../support/server.js';

describe('shutdown with keep-alive clients', () => {
  it('closes promptly right after a blob GET over a keep-alive connection', async () => {
    // fetch keeps its connection alive for as long as the server's Keep-Alive says (72 s);
    // the blob response finishes a tick after the client has every byte.
    for (let i = 0; i < 10; i++) {
      const server = await startTestServer();
      let stopped = false;
      try {
        const repo = `alice/${uniqueName()}`;
        const blob = await pushBlob(server.url, repo, randomBlob(5000));
        const res = await fetch(`${server.url}/v2/${repo}/blobs/${blob.digest}`);
        assert.deepEqual(await bodyOf(res), blob.bytes);
        const started = Date.now();
        const stop = server.stop().then(() => (stopped = true));
        await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, 2000))]);
        assert.ok(stopped, `round ${i}: the server was still closing after ${Date.now() - started} ms`);
      } finally {
        if (!stopped) server.app.server.closeAllConnections();
        await server.stop();
      }
    }
  });
});
