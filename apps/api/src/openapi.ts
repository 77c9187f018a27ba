/**
 * The OpenAPI 3.1 document, generated from the route table (the same zod schemas that validate each
 * request), so every served route is documented and nothing documented is missing.
 */
import { z } from 'zod';
import type { RegisteredRoute } from './routes/registry.ts';

type Json = Record<string, unknown>;

const toSchema = (s: z.ZodType): Json =>
  z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;

/** /api/connectors/:id -> /api/connectors/{id} */
export const openApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, '{$1}');

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function parameters(route: RegisteredRoute): Json[] {
  const out: Json[] = [];
  for (const [where, obj] of [['path', route.params], ['query', route.query]] as const) {
    if (!obj) continue;
    const schema = toSchema(obj) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      const { description, ...rest } = prop;
      out.push({
        name,
        in: where,
        required: where === 'path' || (schema.required ?? []).includes(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  return out;
}

export function buildOpenApi(routes: readonly RegisteredRoute[], info: { title: string; version: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const p = (paths[openApiPath(r.path)] ??= {});
    const responses: Record<string, Json> = {};
    responses[String(r.status)] =
      r.status === 204
        ? { description: 'done' }
        : { description: 'ok', content: { [r.produces ?? 'application/json']: { schema: {} } } };
    for (const [code, description] of Object.entries(r.responses)) responses[code] = errorResponse(description);
    if (r.params || r.query || r.body) responses['400'] ??= errorResponse('validation failed (the message names the field)');
    if (r.role !== 'public') {
      responses['401'] = errorResponse('missing or invalid token');
      if (r.role === 'admin') responses['403'] = errorResponse('viewer token: read only');
    }
    p[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${openApiPath(r.path).replace(/[^A-Za-z0-9]+(\w)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(r.role === 'public' ? { security: [] } : {}),
      ...(r.role === 'admin' ? { 'x-qpc-role': 'admin' } : {}),
      parameters: parameters(r),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description:
        'Qualys Policy Compliance connector. Authorization: Bearer <token> on every route except /healthz and ' +
        '/readyz; viewer tokens may only read. Lists answer { items, next }; pass cursor=<next> for the next page. ' +
        'Errors answer { error: { code, message } }. Bull Board is served at /admin/queues (same tokens; HTTP ' +
        'Basic with the token as password is accepted there for browsers). The console signs in with POST /api/session ' +
        'and is then known by its qpc_session cookie on /api and on the board; writes carried by that cookie or by ' +
        'Basic from another origin answer 403 CROSS_ORIGIN.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'qpc_session' } },
      schemas: { Error: errorSchema },
    },
    security: [{ bearer: [] }, { session: [] }],
    paths,
  };
}
