/**
 * One table of routes: each entry is mounted on Express (auth role, params / query / body parsed by
 * its zod schemas, errors naming the field) and described in the OpenAPI document from the same
 * schemas, so the document cannot drift from what is served.
 */
import type { Express, Request, Response } from 'express';
import { z } from 'zod';
import { requireRole, type Role } from '../auth.ts';
import { validationError } from '../errors.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface RouteInput<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  req: Request;
  res: Response;
}

export interface RouteSpec<P extends AnyObject, Q extends AnyObject, B extends z.ZodType> {
  method: Method;
  /** Express path, e.g. /api/connectors/:id */
  path: string;
  summary: string;
  tag: string;
  /** 'public' routes are answered without a token (health only) */
  role: Role | 'public';
  params?: P;
  query?: Q;
  body?: B;
  /** status of a successful answer; the handler's return value is its JSON body (none for 204) */
  status?: number;
  /** extra documented answers, e.g. { 409: 'duplicate name' } */
  responses?: Record<number, string>;
  /** a content type other than JSON (metrics) */
  produces?: string;
  handle(input: RouteInput<P, Q, B>): Promise<unknown> | unknown;
}

export interface RegisteredRoute {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  role: Role | 'public';
  status: number;
  params?: AnyObject;
  query?: AnyObject;
  body?: z.ZodType;
  responses: Record<number, string>;
  produces?: string;
}

const emptyObject = z.object({});

export class RouteTable {
  readonly routes: RegisteredRoute[] = [];

  constructor(private readonly app: Express) {}

  add<P extends AnyObject = typeof emptyObject, Q extends AnyObject = typeof emptyObject, B extends z.ZodType = z.ZodUndefined>(
    spec: RouteSpec<P, Q, B>,
  ): void {
    const status = spec.status ?? 200;
    this.routes.push({
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      tag: spec.tag,
      role: spec.role,
      status,
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: spec.body } : {}),
      responses: spec.responses ?? {},
      ...(spec.produces ? { produces: spec.produces } : {}),
    });
    // an unknown key (testStatus[$ne], a typo) is refused, not dropped: dropping it answered unfiltered results
    const strictQuery = (spec.query ?? emptyObject).strict();
    const guards = spec.role === 'public' ? [] : [requireRole(spec.role)];
    this.app[spec.method](spec.path, ...guards, async (req: Request, res: Response) => {
      const params = parse('params', spec.params ?? emptyObject, req.params);
      const query = parse('query', strictQuery, req.query);
      const body = spec.body ? parse('body', spec.body, req.body ?? {}) : undefined;
      const out = await spec.handle({ params, query, body, req, res } as RouteInput<P, Q, B>);
      if (res.headersSent) return;
      if (status === 204) {
        res.status(204).end();
        return;
      }
      res.status(status).json(out);
    });
  }
}

function parse<S extends z.ZodType>(where: 'body' | 'query' | 'params', schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(where, r.error);
  return r.data;
}
