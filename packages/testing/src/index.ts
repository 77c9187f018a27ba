/**
 * Private test helpers. Each test file gets its own queue prefix and its own Mongo database, removed in
 * teardown. The Redis is shared with other test files (and maybe other stacks): nothing here flushes it;
 * cleanup deletes only the keys under the file's own prefix.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MongoClient, type Db } from 'mongodb';
import { loadConfig } from '@qpc/config';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export function serviceUrls(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig(env);
  return { redisUrl: c.REDIS_URL, mongoUrl: c.MONGO_URL };
}

/** A unique BullMQ prefix: `test-<uuid>`. */
export function uniquePrefix(label = 'test'): string {
  return `${label}-${randomUUID()}`;
}

/** Delete every key under a prefix, with SCAN (never KEYS, never FLUSH). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

/** A Redis client and a unique prefix; on teardown the prefix's keys are removed and the client closed. */
export async function testRedis(t: Teardown, opts: { maxRetriesPerRequest?: number | null } = {}) {
  const { redisUrl } = serviceUrls();
  const prefix = uniquePrefix();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: opts.maxRetriesPerRequest ?? null });
  redis.on('error', () => {});
  t.teardown(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });
  return { redis, prefix, redisUrl };
}

/** The MONGO_URL with its database replaced. */
export function mongoUrlFor(base: string, dbName: string): string {
  const u = new URL(base);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** A unique database (`test_<hex>`), dropped on teardown. */
export async function testMongo(t: Teardown): Promise<{ client: MongoClient; db: Db; dbName: string; url: string }> {
  const { mongoUrl } = serviceUrls();
  const dbName = `test_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const url = mongoUrlFor(mongoUrl, dbName);
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const db = client.db(dbName);
  t.teardown(async () => {
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  });
  return { client, db, dbName, url };
}

/** Poll until fn returns a truthy value, or fail after timeoutMs. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, stepMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
export * from './tcp-proxy.ts';
export * from './http-server.ts';
