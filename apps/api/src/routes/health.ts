import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Registry } from 'prom-client';
import type { RouteTable } from './registry.ts';

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref()),
  ]);

async function check(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return `down: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export function healthRoutes(table: RouteTable, deps: { redis: Redis; db: Db; metrics: Registry; timeoutMs?: number }) {
  const ms = deps.timeoutMs ?? 2000;
  table.add({
    method: 'get',
    path: '/healthz',
    tag: 'health',
    summary: 'The process is up (no dependency checked)',
    role: 'public',
    handle: () => ({ status: 'ok' }),
  });
  table.add({
    method: 'get',
    path: '/readyz',
    tag: 'health',
    summary: 'Redis and MongoDB are reachable',
    role: 'public',
    responses: { 503: 'Redis or MongoDB unreachable' },
    handle: async ({ res }) => {
      const [redis, mongo] = await Promise.all([
        check(() => within(deps.redis.ping(), ms, 'redis')),
        check(() => within(deps.db.command({ ping: 1 }), ms, 'mongodb')),
      ]);
      const ok = redis === 'ok' && mongo === 'ok';
      if (!ok) {
        const down = [redis === 'ok' ? null : 'redis', mongo === 'ok' ? null : 'mongodb'].filter(Boolean).join(', ');
        res.status(503).json({ error: { code: 'NOT_READY', message: `unreachable: ${down}` }, checks: { redis, mongo } });
        return undefined;
      }
      return { status: 'ok', checks: { redis, mongo } };
    },
  });
  table.add({
    method: 'get',
    path: '/metrics',
    tag: 'health',
    summary: 'Prometheus metrics (any valid token; viewer is enough)',
    role: 'viewer',
    produces: 'text/plain; version=0.0.4',
    handle: async ({ res }) => {
      const text = await deps.metrics.metrics();
      res.status(200).type(deps.metrics.contentType).send(text);
      return undefined;
    },
  });
}
