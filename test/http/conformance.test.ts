/**
 * The four workflows of the OCI conformance suite (v1.1.1: pull, push, content discovery,
 * content management), replayed against an open Pier (test/support/conformance.ts).
 */
import { after, before, describe, it } from 'node:test';
import { conformanceWorkflows, type CallInit } from '../support/conformance.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('OCI conformance workflows (replayed)', () => {
  let server: TestServer;
  const call = (method: string, path: string, init: CallInit = {}) =>
    fetch(`${server.url}${path}`, { method, body: init.body ? new Uint8Array(init.body) : undefined, headers: init.headers });
  const workflows = conformanceWorkflows(call);

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('pull', () => workflows.pull());
  it('push', () => workflows.push());
  it('content discovery', () => workflows.contentDiscovery());
  it('content management', () => workflows.contentManagement());
});
