// The OpenAPI document of /api/v1 against the server itself: every route Fastify registered under
// /api/v1 is in it and nothing else is, each operation is complete, and /api/docs is served under
// a strict CSP. That real answers match the document is checked by every HTTP test: test servers
// run the router's test mode (test/support/server.ts), which fails any answer the document does
// not describe.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registeredRoutes } from '../../src/http/app.js';
import { expectJson, expectProblem, startApiServer, type ApiServer } from '../support/api.js';

interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  security: unknown[];
  parameters?: Array<{ name: string; in: string }>;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

interface Document {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

/** `/api/v1/orgs/:org`, `/orgs/{org}`, `/repositories/*`: one shape for both syntaxes. */
function shape(path: string): string {
  return path.replace(/^\/api\/v1/, '').replace(/\{\w+\}|:\w+|\*$/g, '{}');
}

describe('/api/v1/openapi.json', () => {
  let server: ApiServer;
  let doc: Document;
  before(async () => {
    server = await startApiServer();
    const res = await server.api('/openapi.json');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    doc = await expectJson<Document>(res, 200);
  });
  after(() => server.stop());

  it('is OpenAPI 3.1 and lists exactly the routes the server registered under /api/v1', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.match(doc.info.version, /^\d+\.\d+\.\d+/);
    const registered = registeredRoutes(server.app)
      .filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD')
      .map((r) => `${r.method} ${shape(r.url)}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${shape(path)}`))
      .sort();
    assert.ok(registered.length > 40, `${registered.length} routes`);
    assert.deepEqual(documented, registered);
  });

  it('describes each operation: id, summary, tags, security, parameters for each path variable, answers and problems', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method} ${path}`;
        assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
        assert.ok(op.summary.length > 0, `${where}: summary`);
        assert.ok(op.tags.length > 0, `${where}: tags`);
        assert.ok(Array.isArray(op.security), `${where}: security`);
        const variables = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        const pathParameters = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
        assert.deepEqual(pathParameters, variables, `${where}: path parameters`);
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.some((s) => /^2\d\d$/.test(s)), `${where}: a success answer`);
        assert.ok(statuses.includes('default'), `${where}: a default problem`);
        for (const [status, response] of Object.entries(op.responses)) {
          if (/^[45]\d\d$|^default$/.test(status)) {
            assert.deepEqual(response.content?.['application/problem+json']?.schema, { $ref: '#/components/schemas/Problem' }, `${where} ${status}`);
          }
        }
      }
    }
  });

  it('resolves every $ref to a component', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 0);
    for (const ref of new Set(refs)) assert.ok(doc.components.schemas[ref], `component ${ref}`);
    assert.doesNotMatch(JSON.stringify(doc), /#\/\$defs\//);
  });

  it('names who may call each operation as the server enforces it', async () => {
    assert.deepEqual(doc.paths['/plans']!.get!.security, []);
    assert.deepEqual(doc.paths['/users/me/tokens']!.post!.security, [{ bearer: [] }, { basic: [] }, { session: [] }]);
    assert.deepEqual(doc.paths['/sessions']!.post!.security, []);
    assert.ok(Object.keys(doc.paths['/users/me/tokens']!.post!.responses).includes('403'), 'a state-changing route may answer a csrf problem');
    assert.equal((doc.paths['/settings/pull-limits']!.get as unknown as Record<string, unknown>)['x-pier-auth'], 'admin');
    // the document is public, like the routes it describes
    await expectJson(await server.api('/openapi.json', { auth: { bearer: 'not.a.token' } }), 200);
  });
});

describe('problems outside /api/v1', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
  });
  after(() => server.stop());

  it('answers an unknown page and a path that is not valid URL encoding with typed problems', async () => {
    // (a path outside the APIs is the web UI's page: test/http/ui.test.ts)
    await expectProblem(await fetch(`${server.url}/api/nothing/here`), 404, /no such page: GET \/api\/nothing\/here/, 'not-found');
    await expectProblem(await fetch(`${server.url}/api/v1/orgs/%zz`), 400, /not valid URL encoding/, 'validation');
  });
});

describe('/api/docs', () => {
  let server: ApiServer;
  before(async () => {
    server = await startApiServer();
  });
  after(() => server.stop());

  it('is a static page whose only script is a file of ours, under a strict CSP', async () => {
    const res = await fetch(`${server.url}/api/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.deepEqual(
      scripts.map((m) => [/src="([^"]+)"/.exec(m[1]!)?.[1], m[2]!.trim()]),
      [['/api/docs/docs.js', '']],
    );
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
    for (const [path, type] of [
      ['/api/docs/docs.js', /^text\/javascript/],
      ['/api/docs/docs.css', /^text\/css/],
    ] as const) {
      const file = await fetch(`${server.url}${path}`);
      assert.equal(file.status, 200, path);
      assert.match(file.headers.get('content-type') ?? '', type);
      assert.ok((await file.text()).length > 1000, path);
    }
    // the script reads the document and writes text only, never markup
    const script = await (await fetch(`${server.url}/api/docs/docs.js`)).text();
    assert.match(script, /\/api\/v1\/openapi\.json/);
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });
});
