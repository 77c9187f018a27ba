/**
 * Connections for the API process (and for tests, which pass their own prefix and database): a
 * fail-fast Redis client for readiness, one BullMQ Queue per catalogue queue (each owns its
 * connection), the MongoDB store with every index ensured, and the secret box.
 */
import { Queue } from 'bullmq';
import { QUEUES, closeBullmq, type QueueName } from '@qpc/jobs';
import { connectStore } from '@qpc/store/db';
import type { SecretBox } from '@qpc/secrets';
import { connectionOptions, createRedis, watchDatabase, type Logger } from '@qpc/worker-kit';
import type { AuthTokens } from './auth.ts';
import type { QualysProbe } from './qualys-probe.ts';
import type { ServerDeps } from './server.ts';
import { redisSessions } from './sessions.ts';

export interface WiringOptions {
  redisUrl: string;
  mongoUrl: string;
  prefix: string;
  tokens: AuthTokens;
  allowHttp: boolean;
  allowPrivateQualys?: boolean;
  secrets: SecretBox;
  qualys: QualysProbe;
  logger: Logger;
  /** console session lifetime (QPC_SESSION_TTL_S) */
  sessionTtlS?: number;
  /** the database watch (worker-kit's db-watch.ts: a wedged client is reopened); null: none */
  dbWatch?: { intervalMs: number; wedgedAfterMs: number } | null;
}

export async function connectDeps(opts: WiringOptions): Promise<{ deps: ServerDeps; close: () => Promise<void> }> {
  const redis = createRedis(opts.redisUrl, 'producer', opts.logger);
  const { client, store } = await connectStore(opts.mongoUrl);
  const dbWatch = opts.dbWatch ? watchDatabase({ client, url: opts.mongoUrl, logger: opts.logger, ...opts.dbWatch }) : null;
  const queues = {} as Record<QueueName, Queue>;
  for (const name of Object.values(QUEUES)) {
    const q = new Queue(name, { connection: connectionOptions(opts.redisUrl, 'producer'), prefix: opts.prefix });
    q.on('error', (err) => opts.logger.warn({ queue: name, err: { message: err.message } }, 'queue error'));
    queues[name] = q;
  }
  const deps: ServerDeps = {
    logger: opts.logger,
    tokens: opts.tokens,
    allowHttp: opts.allowHttp,
    allowPrivateQualys: opts.allowPrivateQualys ?? false,
    redis,
    store,
    queues,
    secrets: opts.secrets,
    qualys: opts.qualys,
    sessions: redisSessions(redis, opts.prefix, opts.sessionTtlS),
  };
  const close = async () => {
    dbWatch?.stop();
    await Promise.allSettled(Object.values(queues).map((q) => closeBullmq(q)));
    redis.disconnect();
    await client.close();
  };
  return { deps, close };
}
