/**
 * Two processes share one subscription budget through Redis and never exceed the concurrency limit the
 * simulator enforces; a killed process's lease expires and frees its slot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { reportDigest, startSimulator } from '@qpc/qualys-sim';
import { testRedis, waitFor } from '@qpc/testing';
import { Redis } from 'ioredis';
import { createQualysClient, subscriptionId } from '../src/index.ts';
import { sha256Of, type Teardown } from './helpers.ts';

const WORKER = fileURLToPath(new URL('./fixtures/fetch-worker.ts', import.meta.url));

function worker(t: Teardown, env: Record<string, string>): { child: ChildProcess; lines: string[]; line: () => Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  let buf = '';
  const waiters: (() => void)[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  let read = 0;
  const line = async (): Promise<string> => {
    while (read >= lines.length) {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), once(child, 'exit')]);
    }
    return lines[read++] as string;
  };
  return { child, lines, line };
}

t.test('two processes share one budget and never exceed the limit', async (t) => {
  const { prefix, redisUrl } = await testRedis(t);
  const sim = await startSimulator();
  t.teardown(() => sim.close());
  sim.setLimits({ concurrency: 2 });
  sim.setFaults({ latencyMs: 120 });
  const spec = sim.scenario.reports.find((r) => r.id === '1005');
  if (!spec) throw new Error('no report 1005');
  const expected = await reportDigest(spec);
  const env = { SIM_URL: sim.url, REDIS_URL: redisUrl, KEY_PREFIX: prefix, MODE: 'many', COUNT: '8', REPORT_ID: '1005' };
  const t0 = Date.now();
  const workers = [worker(t, env), worker(t, env)];
  const outs = await Promise.all(workers.map(async (w) => JSON.parse(await w.line()) as { digests: string[]; stats: { calls: number; conflicts409: number } }));
  const ms = Date.now() - t0;
  for (const o of outs) {
    t.equal(o.digests.length, 8);
    t.ok(o.digests.every((d) => d === expected.sha256), 'every download whole');
    t.equal(o.stats.conflicts409, 0);
  }
  const st = sim.stats();
  t.equal(st.fetches['1005'], 16);
  t.equal(st.maxConcurrent, 2, 'the limit was reached and never exceeded');
  t.equal(st.conflicts409, 0, 'no 409 for concurrency');
  t.ok(ms >= (16 / 2) * 120, `16 slow calls two at a time took ${ms} ms`);
});

t.test("a killed process's lease expires and frees its slot", async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const sim = await startSimulator();
  t.teardown(() => sim.close());
  sim.setLimits({ concurrency: 1 });
  const ttl = 1000;
  const w = worker(t, { SIM_URL: sim.url, REDIS_URL: redisUrl, KEY_PREFIX: prefix, MODE: 'hold', REPORT_ID: '1001', LEASE_TTL_MS: String(ttl) });
  t.equal(await w.line(), 'HOLDING');
  const leases = `${prefix}:qualys-budget:${subscriptionId(sim.url, 'demo')}:leases`;
  t.equal(await redis.zcard(leases), 1, 'the worker holds one lease');

  const c = createQualysClient({
    url: sim.url,
    username: 'demo',
    password: 'demo',
    allowHttp: true,
    redis,
    keyPrefix: prefix,
    limits: { concurrency: 1, pollMs: 20, leaseTtlMs: ttl, acquireTimeoutMs: 600 },
  });
  t.teardown(() => c.close());
  // while the worker lives, its renewed lease keeps the slot
  await t.rejects(c.about(), { code: 'QUALYS_BUDGET_TIMEOUT' });

  w.child.kill('SIGKILL');
  await once(w.child, 'exit');
  const killedAt = Date.now();
  const [, score] = await redis.zrange(leases, 0, -1, 'WITHSCORES');
  const expiresAt = Number(score); // Redis clock, ms: nobody renews it any more
  const c2 = createQualysClient({
    url: sim.url,
    username: 'demo',
    password: 'demo',
    allowHttp: true,
    redis,
    keyPrefix: prefix,
    limits: { concurrency: 1, pollMs: 20, leaseTtlMs: ttl },
  });
  t.teardown(() => c2.close());
  const d = await c2.fetchReport('1005');
  const waited = Date.now() - killedAt;
  const [sec, usec] = await redis.time();
  const freedAt = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  await sha256Of(d.body);
  t.ok(freedAt >= expiresAt, 'the slot was taken only once the dead lease had expired');
  t.ok(waited < ttl + 1000, `slot free ${waited} ms after the kill (TTL ${ttl} ms)`);
  t.equal(await redis.zcard(leases), 0);
  t.equal(sim.stats().conflicts409, 0);
  t.equal(sim.stats().maxConcurrent, 1);
});

t.test('a 409 met by one client holds every client of the subscription', async (t) => {
  const { redis, prefix, redisUrl } = await testRedis(t);
  const other = new Redis(redisUrl);
  t.teardown(() => other.quit());
  const sim = await startSimulator();
  t.teardown(() => sim.close());
  const make = (r: Redis) => {
    const c = createQualysClient({ url: sim.url, username: 'demo', password: 'demo', allowHttp: true, redis: r, keyPrefix: prefix, limits: { pollMs: 20 } });
    t.teardown(() => c.close());
    return c;
  };
  const a = make(redis);
  const b = make(other);
  sim.setFaults({ conflicts409: 1, toWaitSec: 2 });
  const aDone = a.about();
  // A has met the 409 and announced the wait to the subscription
  const until = `${prefix}:qualys-budget:${subscriptionId(sim.url, 'demo')}:until`;
  await waitFor(async () => sim.stats().conflicts409 === 1 && (await redis.exists(until)) === 1);
  const t0 = Date.now();
  await b.about(); // sent only once the wait announced to A has passed
  const waited = Date.now() - t0;
  await aDone;
  t.ok(waited >= 1500, `B waited ${waited} ms`);
  t.equal(sim.stats().conflicts409, 1, 'B never met the 409 itself');
  t.equal(b.stats().conflicts409, 0);
  t.equal(a.stats().conflicts409, 1);
});
