/**
 * createServer(deps): the Express app, with nothing listening and nothing connected of its own; main.ts
 * (or a test) owns the connections and calls listen().
 */
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { Store } from '@qpc/store/db';
import { DEFAULT_STUCK_AFTER_MS, findStuckRuns } from '@qpc/store/pipeline';
import { stageJobsOf } from './stage-jobs.ts';
import type { Queue } from 'bullmq';
import type { QueueName } from '@qpc/jobs';
import type { SecretBox } from '@qpc/secrets';
import type { Logger } from '@qpc/worker-kit';
import { authMiddleware, viewerReadOnly, type AuthTokens } from './auth.ts';
import { BOARD_PATH, boardRouter } from './board.ts';
import { ApiError, errorHandler } from './errors.ts';
import { requireJsonBody } from './json-body.ts';
import { createMetrics, type RunTotalsSource } from './metrics.ts';
import { buildOpenApi } from './openapi.ts';
import { RouteTable, type RegisteredRoute } from './routes/registry.ts';
import { healthRoutes } from './routes/health.ts';
import { apiRoutes } from './routes/index.ts';
import { runTotalsFromDb } from './queries/run-totals.ts';
import { allConnectorFreshness } from './freshness.ts';
import type { QualysProbe } from './qualys-probe.ts';
import type { SessionStore } from './sessions.ts';
import { SESSION_PATH } from './routes/session.ts';
import { consoleFiles } from './static.ts';

export interface ServerDeps {
  logger: Logger;
  tokens: AuthTokens;
  /** QPC_ALLOW_HTTP: accept plain-http Qualys URLs (simulator, tests) */
  allowHttp: boolean;
  /** QPC_ALLOW_PRIVATE_QUALYS: https Qualys URLs may be private addresses */
  allowPrivateQualys: boolean;
  /** a fail-fast connection (role 'producer') for readiness */
  redis: Redis;
  store: Store;
  /** one BullMQ Queue per catalogue queue, under QPC_QUEUE_PREFIX */
  queues: Record<QueueName, Queue>;
  secrets: SecretBox;
  /** Test Credentials: dials the Qualys API */
  qualys: QualysProbe;
  /** a run in progress not updated for this long, with no live job, is stuck (QPC_STUCK_AFTER_MS) */
  stuckAfterMs?: number;
  /** console sign-in sessions (the qpc_session cookie) */
  sessions: SessionStore;
  /** default auto URBA threshold (QPC_URBA_THRESHOLD), for the URBA preview */
  urbaThreshold?: number;
  /** the console's built files (QPC_WEB_DIR; default apps/web/dist) */
  webDir?: string;
  /** FerretDB mode: most findings the Host Findings snapshot holds (default 200,000; more: live queries) */
  findingsViewMax?: number;
  /** read the run counters for /metrics (default: aggregate the runs collection) */
  runTotals?: RunTotalsSource;
}

export interface ApiServer {
  app: Express;
  routes: readonly RegisteredRoute[];
  openapi: Record<string, unknown>;
}

export const PUBLIC_PATHS = ['/healthz', '/readyz'] as const;

export function createServer(deps: ServerDeps): ApiServer {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // method, path and status only: never headers, bodies or query strings
      deps.logger.debug(
        { method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  });
  app.use(consoleFiles(deps.webDir));
  app.use(
    authMiddleware({ tokens: deps.tokens, publicPaths: PUBLIC_PATHS, optionalPaths: [SESSION_PATH], basicPrefix: BOARD_PATH, sessions: deps.sessions }),
  );
  app.use('/api', requireJsonBody(), express.json({ limit: '64kb' }));

  const queues = Object.values(deps.queues);
  const metrics = createMetrics({
    queues,
    runTotals: deps.runTotals ?? (() => runTotalsFromDb(deps.store.db)),
    stuckRuns: async () => (await findStuckRuns(deps.store, stageJobsOf(deps), deps.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS)).length,
    freshness: async () =>
      (await allConnectorFreshness(deps.store)).map((r) => ({ id: r.id, name: r.name, dataAge: r.freshness.dataAge, stale: r.freshness.stale })),
  });
  const table = new RouteTable(app);
  healthRoutes(table, { redis: deps.redis, db: deps.store.db, metrics });
  apiRoutes(table, deps);

  let openapi: Record<string, unknown> = {};
  table.add({
    method: 'get',
    path: '/api/openapi.json',
    tag: 'meta',
    summary: 'This OpenAPI document',
    role: 'viewer',
    handle: () => openapi,
  });
  openapi = buildOpenApi(table.routes, { title: 'Qualys PC connector API', version: '0.1.0' });

  app.use(BOARD_PATH, viewerReadOnly(), boardRouter(queues));

  app.use((req, _res, next) => {
    next(new ApiError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(deps.logger));
  return { app, routes: table.routes, openapi };
}
