/** The subscription budget on the real Redis: shared limit, shared waits, learned limit, renewed leases. */
import t from 'tap';
import { Redis } from 'ioredis';
import { testRedis } from '@qpc/testing';
import { LocalBudget, RedisBudget, subscriptionId, type Budget } from '../src/index.ts';

const base = { initialConcurrency: 3, maxConcurrency: 0, acquireTimeoutMs: 20_000, leaseTtlMs: 2000, pollMs: 20 };

async function hammer(budgets: Budget[], calls: number, holdMs: number): Promise<number> {
  let running = 0;
  let max = 0;
  await Promise.all(
    Array.from({ length: calls }, async (_, i) => {
      const b = budgets[i % budgets.length] as Budget;
      const lease = await b.acquire();
      running++;
      max = Math.max(max, running);
      await new Promise((r) => setTimeout(r, holdMs));
      running--;
      await lease.release();
    }),
  );
  return max;
}

t.test('subscription id hashes URL and user, never the password', async (t) => {
  const a = subscriptionId('https://qualysapi.qualys.com/', 'ada');
  t.equal(a, subscriptionId('https://QUALYSAPI.qualys.com', 'ada'));
  t.not(a, subscriptionId('https://qualysapi.qualys.com', 'bob'));
  t.not(a, subscriptionId('https://qualysapi.qualys.eu', 'ada'));
  t.match(a, /^[0-9a-f]{32}$/);
});

t.test('two budgets on two connections never exceed the limit together', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const other = new Redis(redisUrl);
  t.teardown(() => other.quit());
  const a = new RedisBudget({ ...base, redis, keyPrefix: prefix, subscription: 's1' });
  const b = new RedisBudget({ ...base, redis: other, keyPrefix: prefix, subscription: 's1' });
  const max = await hammer([a, b], 24, 40);
  t.equal(max, 3, 'reached the limit, never more');
  t.equal(await redis.zcard(a.leaseKey), 0, 'every lease released');
});

t.test('a learned limit is shared; a block holds every caller', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const other = new Redis(redisUrl);
  t.teardown(() => other.quit());
  const a = new RedisBudget({ ...base, redis, keyPrefix: prefix, subscription: 's2' });
  const b = new RedisBudget({ ...base, redis: other, keyPrefix: prefix, subscription: 's2' });
  await a.learnLimit(1);
  t.equal(await hammer([a, b], 8, 20), 1, 'the limit learned by one applies to the other');
  await a.blockFor(400);
  const t0 = Date.now();
  const lease = await b.acquire();
  t.ok(Date.now() - t0 >= 350, `waited ${Date.now() - t0} ms for the block set by the other`);
  await lease.release();
});

t.test('a long call keeps its lease by renewing it', async (t) => {
  const { redis, prefix } = await testRedis(t);
  const opts = { ...base, initialConcurrency: 1, leaseTtlMs: 200, acquireTimeoutMs: 600, redis, keyPrefix: prefix, subscription: 's3' };
  const a = new RedisBudget(opts);
  const b = new RedisBudget(opts);
  const lease = await a.acquire();
  const err = await b.acquire().catch((e: unknown) => e);
  t.match(err, { code: 'QUALYS_BUDGET_TIMEOUT', retryable: true }, 'held for 3 TTLs by renewal');
  await lease.release();
  const again = await b.acquire();
  await again.release();
});

t.test('an expired lease frees its slot', async (t) => {
  const { redis, prefix } = await testRedis(t);
  const a = new RedisBudget({ ...base, initialConcurrency: 1, leaseTtlMs: 300, redis, keyPrefix: prefix, subscription: 's4' });
  // a holder that died: its lease is in the set and nobody renews it
  const time = await redis.time();
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  await redis.zadd(a.leaseKey, now + 300, 'dead-process-lease');
  const t0 = Date.now();
  const lease = await a.acquire();
  const waited = Date.now() - t0;
  t.ok(waited >= 200 && waited < 1500, `slot free after the TTL (${waited} ms)`);
  await lease.release();
});

t.test('the local budget keeps its limit and learns a new one', async (t) => {
  const b = new LocalBudget({ initialConcurrency: 4, maxConcurrency: 0, acquireTimeoutMs: 5000 });
  t.equal(await hammer([b], 30, 10), 4);
  await b.learnLimit(2);
  t.equal(await hammer([b], 30, 10), 2);
  const capped = new LocalBudget({ initialConcurrency: 4, maxConcurrency: 3, acquireTimeoutMs: 5000 });
  await capped.learnLimit(50);
  t.equal(capped.currentLimit(), 3, 'maxConcurrency caps what the server announces');
});
