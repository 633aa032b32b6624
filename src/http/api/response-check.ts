import type { ValidateFunction } from 'ajv/dist/2020.js';
import { openApiPath, type ApiRoute, type ResponseCheck } from './route.js';
import { problemKinds, type OpenApiDocument } from './openapi.js';

/**
 * The test mode of the router: every answer is validated against the OpenAPI document itself
 * (not against the zod schemas it came from), so a test that passes proves the document describes
 * what the server sent: a field it does not list, a wrong type, an undeclared status or problem
 * kind all fail the request with a 500 that says what is wrong. Servers in tests turn it on
 * (test/support/server.ts); production never loads the validator.
 */
export function documentCheck(document: () => OpenApiDocument): ResponseCheck {
  let compiler: Promise<(schema: object) => ValidateFunction> | undefined;
  const compiled = new Map<string, ValidateFunction>();

  async function validator(route: ApiRoute, status: number): Promise<ValidateFunction | undefined> {
    const key = `${route.method} ${route.path} ${status}`;
    const found = compiled.get(key);
    if (found) return found;
    const doc = document();
    const operation = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()] as { responses: Record<string, { content?: Record<string, { schema: object }> }> } | undefined;
    const schema = operation?.responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema) return undefined;
    compiler ??= loadCompiler();
    // the schema's $refs point into #/components: compile it with the document's components beside it
    const validate = (await compiler)({ ...schema, components: doc.components });
    compiled.set(key, validate);
    return validate;
  }

  return {
    async answer(route, status, body) {
      if (!(status in route.responses)) return `answered ${status}, which the route does not declare`;
      const declared = route.responses[status];
      if (declared === null) return body === undefined ? undefined : `answered a body with ${status}, declared without one`;
      if (body === undefined) return `answered ${status} without a body`;
      const validate = await validator(route, status);
      if (!validate) return `no schema in the document for ${status}`;
      // what is checked is what the client receives: the JSON text, parsed back
      if (validate(JSON.parse(JSON.stringify(body)))) return undefined;
      const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
      return `the ${status} answer does not match the document: ${errors.join('; ')}`;
    },
    problem(route, problem) {
      if (problem.kind === 'internal') return undefined;
      if (problemKinds(route).has(problem.kind)) return undefined;
      return `answered a "${problem.kind}" problem (${problem.status}: ${problem.detail}), which the route does not declare (add it to \`problems\`)`;
    },
  };
}

async function loadCompiler(): Promise<(schema: object) => ValidateFunction> {
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const { default: addFormats } = await import('ajv-formats');
  // strict off: the document's own keywords (`components`, OpenAPI's `example`) are not JSON Schema
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: typeof ajv) => void)(ajv);
  return (schema) => ajv.compile(schema);
}
