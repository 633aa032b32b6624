import { z } from 'zod';
import { problemStatus, ProblemSchema, type ProblemKind } from './problem.js';
import { openApiPath, restParameter, type ApiRoute, type AuthRequirement } from './route.js';

/**
 * The OpenAPI 3.1 document of /api/v1, generated from the routes' own declarations: the zod
 * schemas that validate requests and describe answers are the only source. Schemas with an `id`
 * (`.meta({ id: 'User' })`) become named components; request schemas are inlined (their input
 * form differs from the output form: defaults are optional, unknown fields allowed).
 */
export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  [field: string]: unknown;
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

const SECURITY_SCHEMES = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description: 'A personal or organisation access token, or a session token from POST /users/login.',
  },
  basic: {
    type: 'http',
    scheme: 'basic',
    description: "The account's name and password (or a personal access token as the password).",
  },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: 'pier_session',
    description:
      'A browser session from POST /sessions. Every POST, PUT, PATCH and DELETE it authenticates also sends X-CSRF-Token with the value of the pier_csrf cookie, and a foreign Origin is refused (403 csrf).',
  },
};

const AUTH_TEXT: Record<AuthRequirement, string> = {
  public: 'Anyone; credentials are not read.',
  optional: 'Anyone; what a signed-in caller sees may differ. Credentials that are sent must be valid.',
  'signed-in': 'A signed-in caller; access tokens are accepted.',
  account: "The account's password or a session: access tokens are refused.",
  admin: 'An administrator, with the password or a session.',
};

/** The kinds of problem a route may answer: those it declares, and those its auth and input imply. */
export function problemKinds(route: ApiRoute): Set<ProblemKind> {
  const kinds = new Set<ProblemKind>(route.problems ?? []);
  if (route.params || route.query || route.body) kinds.add('validation');
  if (route.method !== 'GET') {
    // a body is parsed whenever one is sent: malformed JSON, too large, not JSON
    kinds.add('validation');
    kinds.add('too-large');
    kinds.add('unsupported-media-type');
    // a cross-site request, or one with the session cookie but without its CSRF token
    kinds.add('csrf');
  }
  if (route.auth !== 'public') {
    // credentials: wrong ones (401), and the throttle of failed passwords (429); an organisation
    // access token whose plan no longer includes organisation tokens is refused, naming the plan
    kinds.add('unauthorized');
    kinds.add('too-many-requests');
    kinds.add('plan-limit');
  }
  if (route.auth === 'account' || route.auth === 'admin') kinds.add('forbidden');
  return kinds;
}

/** `GET /orgs/{org}/members` -> `getOrgsOrgMembers`: stable, unique per method and path. */
export function operationId(route: ApiRoute): string {
  const words = openApiPath(route.path)
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return route.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

export function buildOpenApiDocument(routes: readonly ApiRoute[], options: { prefix: string; version: string }): OpenApiDocument {
  const components = new Components();
  const problemRef = components.output(ProblemSchema);
  const paths: OpenApiDocument['paths'] = {};
  const tags = new Set<string>();
  for (const route of routes) {
    const path = openApiPath(route.path);
    for (const tag of route.tags) tags.add(tag);
    const operation: JsonSchema = {
      operationId: operationId(route),
      summary: route.summary,
      description: [route.description, `Who: ${AUTH_TEXT[route.auth]}`].filter(Boolean).join('\n\n'),
      tags: [...route.tags],
      security: security(route.auth),
      'x-pier-auth': route.auth,
    };
    const parameters = [...parametersOf(route, 'path', components), ...parametersOf(route, 'query', components)];
    if (parameters.length > 0) operation.parameters = parameters;
    if (route.body) {
      operation.requestBody = { required: route.optionalBody !== true, content: { 'application/json': { schema: components.input(route.body) } } };
    }
    const responses: Record<string, JsonSchema> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      responses[status] = schema
        ? { description: describe(schema) ?? statusText(Number(status)), content: { 'application/json': { schema: components.output(schema) } } }
        : { description: statusText(Number(status)) };
    }
    const byStatus = new Map<number, ProblemKind[]>();
    for (const kind of problemKinds(route)) byStatus.set(problemStatus(kind), [...(byStatus.get(problemStatus(kind)) ?? []), kind]);
    for (const [status, kinds] of [...byStatus].sort(([a], [b]) => a - b)) {
      responses[String(status)] = {
        description: `A problem: ${kinds.join(', ')}.`,
        content: { 'application/problem+json': { schema: problemRef } },
      };
    }
    responses.default = { description: 'A problem (an internal error).', content: { 'application/problem+json': { schema: problemRef } } };
    operation.responses = responses;
    const item = (paths[path] ??= {});
    const method = route.method.toLowerCase();
    if (item[method]) throw new Error(`two routes for ${route.method} ${path}`);
    item[method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Pier API',
      version: options.version,
      description:
        'The hub API of Pier, a self-hosted Docker Hub. JSON in and out; every error is application/problem+json with a stable `type`. ' +
        'Paged lists answer `{count, next, previous, results}`.',
    },
    servers: [{ url: options.prefix }],
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: { schemas: components.schemas, securitySchemes: SECURITY_SCHEMES },
  };
}

function security(auth: AuthRequirement): Array<Record<string, string[]>> {
  if (auth === 'public') return [];
  const schemes: Array<Record<string, string[]>> = [{ bearer: [] }, { basic: [] }, { session: [] }];
  return auth === 'optional' ? [{}, ...schemes] : schemes;
}

function parametersOf(route: ApiRoute, where: 'path' | 'query', components: Components): JsonSchema[] {
  const schema = where === 'path' ? route.params : route.query;
  if (!schema) return [];
  const json = components.input(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  const rest = restParameter(route.path);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest_ } = property;
    const text = name === rest ? [description, 'The rest of the path: may contain `/`.'].filter(Boolean).join(' ') : description;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(text ? { description: text } : {}),
      schema: rest_,
    };
  });
}

function describe(schema: z.ZodType): string | undefined {
  const meta = z.globalRegistry.get(schema);
  return typeof meta?.description === 'string' ? meta.description : undefined;
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };
const statusText = (status: number) => STATUS_TEXT[status] ?? String(status);

/** Named schemas, shared by every operation of the document. */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};

  /** An answer's schema; named sub-schemas become components. */
  output(schema: z.ZodType): JsonSchema {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as JsonSchema;
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    delete json.$defs;
    delete json.$schema;
    const named = (json.id ?? undefined) as string | undefined;
    for (const [id, def] of Object.entries(defs)) this.#add(id, relink(stripId(def)));
    const body = relink(json);
    if (named) {
      // the schema itself carries an id: it is the component, referenced
      this.#add(named, stripId(body));
      return { $ref: `#/components/schemas/${named}` };
    }
    return body;
  }

  /** A request's schema, inlined. */
  input(schema: z.ZodType): JsonSchema {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
    const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
    delete json.$defs;
    delete json.$schema;
    return stripId(inline(json, defs));
  }

  // zod's registry refuses a second schema with an id already taken: one name, one schema
  #add(id: string, schema: JsonSchema): void {
    this.schemas[id] = schema;
  }
}

function stripId(schema: JsonSchema): JsonSchema {
  const { id: _id, ...rest } = schema;
  return rest;
}

/** `#/$defs/X` -> `#/components/schemas/X`, everywhere in the schema. */
function relink(value: JsonSchema): JsonSchema {
  return mapDeep(value, (node) =>
    typeof node.$ref === 'string' && node.$ref.startsWith('#/$defs/') ? { ...node, $ref: `#/components/schemas/${node.$ref.slice(8)}` } : node,
  ) as JsonSchema;
}

function inline(value: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema {
  return mapDeep(value, (node) => {
    if (typeof node.$ref !== 'string' || !node.$ref.startsWith('#/$defs/')) return node;
    const { $ref, ...siblings } = node;
    return { ...stripId(inline(defs[($ref as string).slice(8)]!, defs)), ...siblings };
  }) as JsonSchema;
}

function mapDeep(value: unknown, visit: (node: JsonSchema) => JsonSchema): unknown {
  if (Array.isArray(value)) return value.map((item) => mapDeep(item, visit));
  if (typeof value !== 'object' || value === null) return value;
  const mapped = visit(value as JsonSchema);
  return Object.fromEntries(Object.entries(mapped).map(([key, item]) => [key, mapDeep(item, visit)]));
}
