import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from './context.js';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { conflict, notFound, PROBLEM_TYPE_BASE } from './problem.js';
import { documentCheck } from './response-check.js';
import { answer, apiErrorHandler, ApiRouter } from './route.js';

const Thing = z.object({ name: z.string(), size: z.number().int(), tags: z.array(z.string()) }).meta({ id: 'Thing' });

/**
 * A router with a few public routes (they never read credentials, so the context is never used),
 * mounted like /api/v1 is: its own JSON parser and error handler.
 */
async function mount(checkResponses: boolean): Promise<{ app: FastifyInstance; document: () => OpenApiDocument }> {
  const app = Fastify();
  let router!: ApiRouter;
  let document: OpenApiDocument | undefined;
  const documentOf = () => (document ??= buildOpenApiDocument(router.routes, { prefix: '/api/v1', version: 'test' }));
  await app.register(
    async (api) => {
      api.removeAllContentTypeParsers();
      api.addContentTypeParser('application/json', { parseAs: 'string' }, api.getDefaultJsonParser('error', 'error'));
      router = new ApiRouter(api, {} as ApiContext, '/api/v1');
      if (checkResponses) router.checkResponses(documentCheck(documentOf));
      api.setErrorHandler(apiErrorHandler(router));

      router.route({
        method: 'POST',
        path: '/things/{owner}',
        summary: 'Create a thing',
        tags: ['things'],
        auth: 'public',
        params: z.object({ owner: z.string().min(2) }),
        query: z.object({ dry: z.enum(['true', 'false']).optional() }),
        body: z.strictObject({ name: z.string(), size: z.number().int().min(0), tags: z.array(z.string()).optional() }),
        responses: { 201: Thing, 202: Thing },
        problems: ['conflict'],
        handler: async ({ params, query, body }) => {
          if (body.name === 'taken') throw conflict('the name is taken');
          if (body.name === 'missing') throw notFound('nothing here');
          const thing = { name: `${params.owner}/${body.name}`, size: body.size, tags: body.tags ?? [] };
          return query.dry === 'true' ? answer(202, thing) : thing;
        },
      });

      router.route({
        method: 'GET',
        path: '/things',
        summary: 'List things, paged',
        tags: ['things'],
        auth: 'public',
        query: z.object({ page: z.coerce.number().int().min(1).default(1), wrong: z.enum(['extra', 'type', 'status', 'none']).default('none') }),
        responses: { 200: z.object({ page: z.number().int(), results: z.array(Thing) }) },
        handler: async ({ query }) => {
          const thing = { name: 'a', size: 1, tags: [] };
          // what a buggy handler might answer: the test mode must catch each
          if (query.wrong === 'extra') return { page: query.page, results: [{ ...thing, secret: 'x' }] };
          if (query.wrong === 'type') return { page: query.page, results: [{ ...thing, size: '1' as unknown as number }] };
          if (query.wrong === 'status') return answer(299 as 200, { page: query.page, results: [] });
          return { page: query.page, results: [thing] };
        },
      });

      router.route({
        method: 'DELETE',
        path: '/things/{owner}/{name+}',
        summary: 'Delete a thing by its full name',
        tags: ['things'],
        auth: 'optional',
        params: z.object({ owner: z.string(), name: z.string() }),
        responses: { 204: null },
        problems: ['not-found'],
        handler: async ({ params }) => {
          if (params.name === 'a/b/c') return;
          throw notFound(`${params.owner} has no ${params.name}`);
        },
      });
    },
    { prefix: '/api/v1' },
  );
  await app.ready();
  return { app, document: documentOf };
}

describe('ApiRouter', () => {
  let checked: FastifyInstance;
  let loose: FastifyInstance;
  let document: () => OpenApiDocument;
  before(async () => {
    ({ app: checked, document } = await mount(true));
    ({ app: loose } = await mount(false));
  });
  after(async () => {
    await checked.close();
    await loose.close();
  });

  const post = (app: FastifyInstance, url: string, payload: unknown) =>
    app.inject({ method: 'POST', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });

  describe('requests', () => {
    it('answers the parsed input with the lowest declared status, or the one the handler chose', async () => {
      const res = await post(checked, '/api/v1/things/alice', { name: 'box', size: 3 });
      assert.equal(res.statusCode, 201, res.body);
      assert.deepEqual(res.json(), { name: 'alice/box', size: 3, tags: [] });
      assert.equal((await post(checked, '/api/v1/things/alice?dry=true', { name: 'box', size: 3 })).statusCode, 202);
    });

    it('refuses a bad input with a validation problem naming every field', async () => {
      const res = await post(checked, '/api/v1/things/alice', { name: 7, size: -1, colour: 'red' });
      assert.equal(res.statusCode, 400);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const problem = res.json();
      assert.equal(problem.type, `${PROBLEM_TYPE_BASE}validation`);
      assert.deepEqual(
        problem.errors.map((e: { field: string }) => e.field).sort(),
        ['colour', 'name', 'size'],
      );
      assert.match(problem.detail, /^(name|size): |^unknown field: colour/);
      assert.match((await post(checked, '/api/v1/things/alice', { name: 'x', size: 1, colour: 'red' })).json().detail, /^unknown field: colour$/);
    });

    it('validates path and query parameters the same way', async () => {
      const owner = await post(checked, '/api/v1/things/a', { name: 'x', size: 1 });
      assert.equal(owner.statusCode, 400);
      assert.equal(owner.json().errors[0].field, 'owner');
      const page = await checked.inject('/api/v1/things?page=zero');
      assert.equal(page.statusCode, 400);
      assert.match(page.json().detail, /^page: /);
      assert.deepEqual((await checked.inject('/api/v1/things?page=2')).json().page, 2);
    });

    it('refuses a body that is not a JSON object', async () => {
      for (const payload of ['[]', '"text"', 'null']) {
        const res = await checked.inject({ method: 'POST', url: '/api/v1/things/alice', payload, headers: { 'content-type': 'application/json' } });
        assert.equal(res.statusCode, 400, payload);
        assert.match(res.json().detail, /JSON object/);
      }
      assert.equal((await checked.inject({ method: 'POST', url: '/api/v1/things/alice' })).statusCode, 400);
    });

    it('gives a last {name+} parameter the rest of the path, and answers 204 without a body', async () => {
      const res = await checked.inject({ method: 'DELETE', url: '/api/v1/things/alice/a/b/c' });
      assert.equal(res.statusCode, 204);
      assert.equal(res.body, '');
      assert.equal((await checked.inject({ method: 'DELETE', url: '/api/v1/things/alice/other' })).statusCode, 404);
    });
  });

  describe('the test mode: every answer checked against the document', () => {
    it('lets through what the document describes, declared problems included', async () => {
      assert.equal((await checked.inject('/api/v1/things')).statusCode, 200);
      const taken = await post(checked, '/api/v1/things/alice', { name: 'taken', size: 1 });
      assert.equal(taken.statusCode, 409);
      assert.equal(taken.json().type, `${PROBLEM_TYPE_BASE}conflict`);
    });

    it('fails a field the document does not list, a wrong type, an undeclared status', async () => {
      const extra = await checked.inject('/api/v1/things?wrong=extra');
      assert.equal(extra.statusCode, 500);
      assert.match(extra.json().detail, /GET \/things: .*additional properties \(secret\)/);
      const type = await checked.inject('/api/v1/things?wrong=type');
      assert.equal(type.statusCode, 500);
      assert.match(type.json().detail, /\/results\/0\/size must be integer/);
      const status = await checked.inject('/api/v1/things?wrong=status');
      assert.equal(status.statusCode, 500);
      assert.match(status.json().detail, /answered 299, which the route does not declare/);
    });

    it('fails a kind of problem the route does not declare', async () => {
      const res = await post(checked, '/api/v1/things/alice', { name: 'missing', size: 1 });
      assert.equal(res.statusCode, 500);
      assert.match(res.json().detail, /"not-found" problem .* does not declare/);
    });

    it('is off in production: the handler’s answer is sent as it is', async () => {
      assert.deepEqual((await loose.inject('/api/v1/things?wrong=extra')).json().results[0].secret, 'x');
      assert.equal((await post(loose, '/api/v1/things/alice', { name: 'missing', size: 1 })).statusCode, 404);
    });
  });

  describe('the OpenAPI document', () => {
    it('describes each route from its declaration', () => {
      const doc = document();
      assert.equal(doc.openapi, '3.1.0');
      assert.deepEqual(doc.servers, [{ url: '/api/v1' }]);
      const create = doc.paths['/things/{owner}']!.post as Record<string, any>;
      assert.equal(create.operationId, 'postThingsOwner');
      assert.deepEqual(create.security, []);
      assert.deepEqual(
        create.parameters.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]),
        [
          ['owner', 'path', true],
          ['dry', 'query', false],
        ],
      );
      const body = create.requestBody.content['application/json'].schema;
      assert.deepEqual(body.required, ['name', 'size']);
      assert.equal(body.additionalProperties, false);
      assert.deepEqual(create.responses['201'].content['application/json'].schema, { $ref: '#/components/schemas/Thing' });
      assert.deepEqual(Object.keys(create.responses).sort(), ['201', '202', '400', '403', '409', '413', '415', 'default']);
      assert.match(create.responses['400'].description, /validation/);
      // a state-changing route may refuse a cross-site request, whoever may call it
      assert.match(create.responses['403'].description, /csrf/);
      assert.deepEqual(create.responses['409'].content['application/problem+json'].schema, { $ref: '#/components/schemas/Problem' });
      assert.deepEqual(doc.components.schemas.Thing!.required, ['name', 'size', 'tags']);
      assert.ok(doc.components.schemas.Problem);

      const list = doc.paths['/things']!.get as Record<string, any>;
      assert.deepEqual(list.parameters[0], { name: 'page', in: 'query', required: false, schema: { default: 1, type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } });
      assert.deepEqual(list.responses['200'].content['application/json'].schema.properties.results.items, { $ref: '#/components/schemas/Thing' });

      const remove = doc.paths['/things/{owner}/{name}']!.delete as Record<string, any>;
      assert.match(remove.parameters[1].description, /may contain `\/`/);
      assert.deepEqual(remove.security, [{}, { bearer: [] }, { basic: [] }, { session: [] }]);
      assert.equal(remove.responses['204'].content, undefined);
      assert.ok(remove.responses['401'], 'credentials that are sent may be refused');
    });
  });
});
