import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { budgetTimeout, clampLimit, type Budget, type BudgetOptions, type Lease } from './budget.ts';
import { sleep } from './limits.ts';

/**
 * The subscription budget shared through Redis. Keys (all under `<prefix>:qualys-budget:<subscription>`):
 * - `leases`: a sorted set of lease ids scored by their expiry (Redis clock, ms). A process that dies stops
 *   renewing; its leases expire and the next acquire purges them, so a slot is never lost for good.
 * - `limit`: the concurrency limit last announced by the server (kept an hour).
 * - `until`: nobody calls before this time (ms), set from 409 answers and an exhausted rate window.
 * The scripts read the time from Redis so the clocks of the processes do not matter.
 */
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const ACQUIRE = `${NOW}
local untilMs = tonumber(redis.call('GET', KEYS[3]) or '0')
if untilMs > now then return {0, untilMs - now} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(redis.call('GET', KEYS[2]) or ARGV[3])
local maxl = tonumber(ARGV[4])
if maxl > 0 and limit > maxl then limit = maxl end
if limit < 1 then limit = 1 end
if redis.call('ZCARD', KEYS[1]) < limit then
  local ttl = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl * 2 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
  return {1, 0}
end
return {0, -1}`;

const RENEW = `${NOW}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local ttl = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl * 2 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
  return 1
end
return 0`;

const BLOCK = `${NOW}
local target = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if target > cur then redis.call('SET', KEYS[1], target, 'PX', tonumber(ARGV[1]) + 1000) end
return target`;

interface BudgetCommands {
  qpcBudgetAcquire(leases: string, limit: string, until: string, id: string, ttlMs: number, initial: number, max: number): Promise<[number, number]>;
  qpcBudgetRenew(leases: string, id: string, ttlMs: number): Promise<number>;
  qpcBudgetBlock(until: string, ms: number): Promise<number>;
}

function commands(redis: Redis): BudgetCommands {
  const r = redis as Redis & Partial<BudgetCommands>;
  if (!r.qpcBudgetAcquire) {
    redis.defineCommand('qpcBudgetAcquire', { numberOfKeys: 3, lua: ACQUIRE });
    redis.defineCommand('qpcBudgetRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('qpcBudgetBlock', { numberOfKeys: 1, lua: BLOCK });
  }
  return redis as unknown as BudgetCommands;
}

export interface RedisBudgetOptions extends BudgetOptions {
  redis: Redis;
  /** key prefix, e.g. "qpc" */
  keyPrefix: string;
  subscription: string;
  /** a lease not renewed within this long frees its slot */
  leaseTtlMs: number;
  /** how often a waiting caller asks again when every slot is taken */
  pollMs: number;
  logger?: Logger;
}

export class RedisBudget implements Budget {
  private readonly cmd: BudgetCommands;
  private readonly keys: { leases: string; limit: string; until: string };
  private learned: number | undefined;

  constructor(private readonly opts: RedisBudgetOptions) {
    this.cmd = commands(opts.redis);
    const base = `${opts.keyPrefix}:qualys-budget:${opts.subscription}`;
    this.keys = { leases: `${base}:leases`, limit: `${base}:limit`, until: `${base}:until` };
  }

  get leaseKey(): string {
    return this.keys.leases;
  }

  currentLimit(): number {
    return clampLimit(this.learned ?? this.opts.initialConcurrency, this.opts);
  }

  async learnLimit(limit: number): Promise<void> {
    if (this.learned === limit) return;
    this.learned = limit;
    await this.opts.redis.set(this.keys.limit, String(limit), 'EX', 3600);
  }

  async blockFor(ms: number): Promise<void> {
    await this.cmd.qpcBudgetBlock(this.keys.until, Math.ceil(ms));
  }

  async acquire(signal?: AbortSignal): Promise<Lease> {
    const { leaseTtlMs, pollMs, acquireTimeoutMs, initialConcurrency, maxConcurrency } = this.opts;
    const deadline = Date.now() + acquireTimeoutMs;
    const id = randomUUID();
    for (;;) {
      signal?.throwIfAborted();
      const [ok, waitMs] = await this.cmd.qpcBudgetAcquire(
        this.keys.leases,
        this.keys.limit,
        this.keys.until,
        id,
        leaseTtlMs,
        initialConcurrency,
        maxConcurrency,
      );
      if (ok === 1) return this.lease(id);
      const pause = waitMs > 0 ? waitMs + Math.random() * 100 : pollMs / 2 + Math.random() * pollMs;
      if (Date.now() + pause > deadline) throw budgetTimeout(acquireTimeoutMs);
      await sleep(pause, signal);
    }
  }

  private lease(id: string): Lease {
    const { redis, leaseTtlMs, logger } = this.opts;
    let released = false;
    // Renew well before expiry so a long download keeps its slot; unref so a lease never keeps a process up.
    const timer = setInterval(() => {
      this.cmd.qpcBudgetRenew(this.keys.leases, id, leaseTtlMs).then(
        (kept) => {
          if (!kept && !released) logger?.warn({ lease: id }, 'qualys budget lease expired before renewal');
        },
        (err: unknown) => logger?.warn({ err: { message: (err as Error).message } }, 'qualys budget lease renewal failed'),
      );
    }, Math.max(50, Math.floor(leaseTtlMs / 3)));
    timer.unref();
    return {
      id,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        // a lease that cannot be removed now (Redis away) still expires with its TTL: never fail a call for it
        await redis.zrem(this.keys.leases, id).catch((err: unknown) => {
          logger?.warn({ err: { message: (err as Error).message }, lease: id }, 'qualys budget lease release failed; it will expire');
        });
      },
    };
  }
}
