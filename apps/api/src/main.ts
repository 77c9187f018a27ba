/** The API process: config, connections, createServer(), listen(), graceful shutdown. */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@qpc/config';
import { secretBoxFromConfig } from '@qpc/secrets';
import { assertNoEviction, createLogger, createRedis, dbWatchSettings, onShutdown, redactUrl } from '@qpc/worker-kit';
import { createClientProbe } from './qualys-probe-client.ts';
import { createServer } from './server.ts';
import { connectDeps } from './wiring.ts';

const config = loadConfig(process.env, { require: ['QPC_API_TOKEN', 'QPC_SECRET_KEY'] });
const logger = createLogger('api', config.QPC_LOG_LEVEL);
const secrets = secretBoxFromConfig(config);

// the Qualys budget client: plain commands with a few retries (not the fail-fast producer role)
const budgetRedis = createRedis(config.REDIS_URL, 'client', logger);
await assertNoEviction(budgetRedis);

const { deps, close } = await connectDeps({
  redisUrl: config.REDIS_URL,
  mongoUrl: config.MONGO_URL,
  prefix: config.QPC_QUEUE_PREFIX,
  tokens: { admin: config.QPC_API_TOKEN ?? '', viewers: config.QPC_VIEWER_TOKENS },
  allowHttp: config.QPC_ALLOW_HTTP,
  allowPrivateQualys: config.QPC_ALLOW_PRIVATE_QUALYS,
  secrets,
  qualys: createClientProbe({ redis: budgetRedis, keyPrefix: config.QPC_QUEUE_PREFIX, logger }),
  logger,
  sessionTtlS: config.QPC_SESSION_TTL_S,
  // a client that stays unusable after the database returned is reopened (worker-kit's db-watch.ts)
  dbWatch: dbWatchSettings(config),
});
const { app } = createServer({
  ...deps,
  stuckAfterMs: config.QPC_STUCK_AFTER_MS,
  urbaThreshold: config.QPC_URBA_THRESHOLD,
  ...(config.QPC_WEB_DIR ? { webDir: config.QPC_WEB_DIR } : {}),
});
const server = app.listen(config.QPC_API_PORT, config.QPC_API_HOST);
await new Promise<void>((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});
const addr = server.address() as AddressInfo;
logger.info(
  { url: `http://${addr.address}:${addr.port}`, board: `http://${addr.address}:${addr.port}/admin/queues`, redis: redactUrl(config.REDIS_URL), prefix: config.QPC_QUEUE_PREFIX },
  'api listening',
);

onShutdown(
  () => [
    {
      name: 'http',
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    },
    { name: 'connections', close },
    { name: 'budget-redis', close: () => budgetRedis.quit() },
  ],
  { timeoutMs: config.QPC_SHUTDOWN_TIMEOUT_MS, logger },
);
