/** Test wiring: a real API server on port 0 over a private queue prefix and database. */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createSecretBox } from '@qpc/secrets';
import { httpServer, testMongo, testRedis, type Teardown } from '@qpc/testing';
import { createLogger } from '@qpc/worker-kit';
import { createServer } from '../src/server.ts';
import { connectDeps } from '../src/wiring.ts';
import type { QualysProbe } from '../src/qualys-probe.ts';

export const ADMIN = 'admin-token-0123456789abcdef';
export const VIEWER = 'viewer-token-0123456789abcdef';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience: JSON of any shape
  json: any;
}

export interface Api {
  base: string;
  deps: Awaited<ReturnType<typeof connectDeps>>['deps'];
  routes: ReturnType<typeof createServer>['routes'];
  openapi: Record<string, unknown>;
  logs: string[];
  prefix: string;
  dbName: string;
  mongoUrl: string;
  redisUrl: string;
  call(method: string, path: string, opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
  /** every answer body so far (for the canary checks) */
  answers: string[];
}

const unusedProbe: QualysProbe = async () => {
  throw new Error('this test does not dial Qualys');
};

export async function startApi(
  t: Teardown,
  opts: { webDir?: string; allowHttp?: boolean; allowPrivateQualys?: boolean; qualys?: QualysProbe; redisUrl?: string; mongoHostPort?: string; secretKey?: Buffer } = {},
): Promise<Api> {
  const { prefix, redisUrl: sharedRedis } = await testRedis(t);
  const { url: realMongoUrl, dbName } = await testMongo(t);
  const mongoUrl = opts.mongoHostPort ? `mongodb://${opts.mongoHostPort}/${dbName}` : realMongoUrl;
  const redisUrl = opts.redisUrl ?? sharedRedis;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger('api-test', 'debug', sink);
  const secrets = createSecretBox({ keys: { k1: opts.secretKey ?? randomBytes(32) }, currentKeyId: 'k1' });
  const { deps, close } = await connectDeps({
    redisUrl,
    mongoUrl,
    prefix,
    tokens: { admin: ADMIN, viewers: [VIEWER] },
    allowHttp: opts.allowHttp ?? false,
    allowPrivateQualys: opts.allowPrivateQualys ?? false,
    secrets,
    qualys: opts.qualys ?? unusedProbe,
    logger,
    // as the API process runs it, with short periods: a client left wedged by a cut connection is reopened
    dbWatch: { intervalMs: 250, wedgedAfterMs: 3000 },
  });
  t.teardown(close); // teardowns run last-registered first: after the server closes
  const { app, routes, openapi } = createServer({ ...deps, ...(opts.webDir ? { webDir: opts.webDir } : {}) });
  const { url: base } = await httpServer(t, app);
  const answers: string[] = [];
  return {
    base,
    deps,
    routes,
    openapi,
    logs,
    prefix,
    dbName,
    mongoUrl,
    redisUrl,
    answers,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token === undefined ? ADMIN : o.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const withBody = o.body !== undefined && method !== 'GET' && method !== 'HEAD';
      if (withBody) headers['content-type'] = 'application/json';
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(withBody ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
      });
      const text = await res.text();
      answers.push(`${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`);
      let json: unknown = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
  };
}
