/**
 * `npm start` (scripts/start.mjs) and its apps end within a bound: SIGTERM stops every app (api,
 * scheduler, workers) well within their shutdown timeout, and when the supervising script is SIGKILLed
 * the apps, each in its own process group, notice and shut down instead of living on as orphans.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { testMongo, testRedis, waitFor } from '@qpc/testing';
import { APPS, ROOT } from '../../../scripts/apps.mjs';

const SHUTDOWN_TIMEOUT_MS = 5_000;

/** Running and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** `npm start` with every app up; resolves with the pid of each app (from its start line). */
async function npmStart(t: Test): Promise<{ start: ChildProcess; pids: Map<string, number>; lines: string[] }> {
  const { redisUrl, prefix } = await testRedis(t);
  const { url: mongoUrl } = await testMongo(t);
  const start = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      MONGO_URL: mongoUrl,
      QPC_QUEUE_PREFIX: prefix,
      QPC_API_TOKEN: randomBytes(18).toString('base64url'),
      QPC_API_PORT: '0',
      QPC_SECRET_KEY: randomBytes(32).toString('base64'),
      QPC_LOG_LEVEL: 'info',
      QPC_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pids = new Map<string, number>();
  const lines: string[] = [];
  t.teardown(() => {
    for (const pid of [start.pid, ...pids.values()]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  createInterface({ input: start.stdout! }).on('line', (l) => {
    lines.push(l);
    const m = /^(\S+)\s+\| .*"pid":(\d+).*"msg":"(?:api listening|[a-z-]+ started)"/.exec(l);
    if (m) pids.set(m[1]!, Number(m[2]));
  });
  await waitFor(() => pids.size === APPS.length || start.exitCode !== null, 60_000, 100);
  t.same([...pids.keys()].sort(), [...APPS].sort(), 'every app started');
  return { start, pids, lines };
}

t.test('SIGTERM to npm start: every app exits cleanly within its shutdown timeout', async (t) => {
  const { start, pids, lines } = await npmStart(t);
  const exited = once(start, 'exit');
  const t0 = Date.now();
  start.kill('SIGTERM');
  const [code] = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('npm start still running after 20 s')), 20_000))]) as [number];
  const ms = Date.now() - t0;
  t.equal(code, 0, 'every app exited 0');
  t.ok(ms < SHUTDOWN_TIMEOUT_MS, `all stopped in ${ms} ms`);
  t.same([...pids.values()].filter(alive), [], 'no app left running');
  for (const app of APPS) t.ok(lines.some((l) => l.startsWith(`${app.padEnd(13)} | `) && l.includes('shut down cleanly')), `${app} shut down cleanly`);
});

t.test('npm start SIGKILLed: its apps notice and exit within a few seconds', async (t) => {
  const { start, pids } = await npmStart(t);
  const t0 = Date.now();
  start.kill('SIGKILL');
  await once(start, 'exit');
  const left = await waitFor(() => ([...pids.values()].some(alive) ? false : 'none'), 15_000, 100).catch(() => 'some');
  const ms = Date.now() - t0;
  t.equal(left, 'none', `every app exited (${ms} ms after the SIGKILL)`);
  t.ok(ms < SHUTDOWN_TIMEOUT_MS, `within the shutdown timeout (${ms} ms)`);
});
