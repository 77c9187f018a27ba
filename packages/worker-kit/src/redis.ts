import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';
import { redactUrl } from './logger.ts';

/**
 * Connection roles, as BullMQ's production guide sets them:
 * - worker: blocking commands; must never give up on a request (maxRetriesPerRequest null), and
 *   reconnects forever so a Redis restart only pauses processing;
 * - producer: API and scheduler adding jobs; fails fast while Redis is away (no offline queue), so an
 *   HTTP request gets an error instead of hanging;
 * - client: plain commands (leases, counters): a few retries, then an error.
 */
export type RedisRole = 'worker' | 'producer' | 'client';

export function redisOptions(role: RedisRole): RedisOptions {
  const retryStrategy = (times: number) => Math.min(200 * 2 ** Math.min(times, 7), 10_000);
  switch (role) {
    case 'worker':
      return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
    case 'producer':
      return { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy };
    case 'client':
      return { maxRetriesPerRequest: 3, retryStrategy };
  }
}

export function createRedis(url: string, role: RedisRole, logger?: Logger): Redis {
  const redis = new Redis(url, { ...redisOptions(role), lazyConnect: false });
  let down = false;
  // An 'error' listener is required: without one ioredis errors crash the process.
  redis.on('error', (err: Error) => {
    if (!down) logger?.warn({ err: { message: err.message }, redis: redactUrl(url), role }, 'redis error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger?.info({ redis: redactUrl(url), role }, 'redis reconnected');
    down = false;
  });
  return redis;
}

export class RedisPolicyError extends Error {
  readonly code = 'REDIS_EVICTION_POLICY';
  constructor(policy: string) {
    super(
      `Redis maxmemory-policy is "${policy}"; BullMQ needs "noeviction" or it may silently lose jobs. ` +
        'Fix: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf).',
    );
    this.name = 'RedisPolicyError';
  }
}

/** Refuse a Redis that may evict keys. Managed Redis services without CONFIG are allowed through. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  let policy: string | undefined;
  try {
    const r = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = r[1];
  } catch {
    return;
  }
  if (policy !== undefined && policy !== 'noeviction') throw new RedisPolicyError(policy);
}

/**
 * Connection options (not a connection) for BullMQ: the Queue or Worker then owns its connections and
 * closes them itself on close().
 */
export function connectionOptions(url: string, role: RedisRole): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    ...redisOptions(role),
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
