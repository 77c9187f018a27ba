/**
 * `npm run chaos`: faults injected into the real stack (the apps' bundles as processes, the simulator,
 * a FerretDB and a redis-server of the suite's own on free ports, never the shared ones), each followed
 * by recovery and a check of the database against the generator's ground truth; then the horizontal-scale
 * run (scripts/chaos/scale.ts). The posture source's SIGKILL test runs as one row
 * (apps/worker-upsert/test/posture-kill.chaos.ts). Prints a table, one `chaos: ok|FAIL` line per row, a tap-style
 * `# { total, pass, fail }` line (.ci/run counts it) and, last, one JSON line. Exits non-zero if a row
 * misses its goal: 0 lost, 0 duplicated, 0 wrongly closed, 0 stuck, every run succeeded.
 *
 * Size: QPC_CHAOS_HOSTS x 10 controls x 2 instances (default 20: about 400 findings;
 * on FerretDB a re-sync's updates scan the collection, so size costs quadratically); QPC_CHAOS_SCALE=0 skips
 * the scale run; QPC_CHAOS_ONLY=<substring> runs only the rows whose fault names contain it, and
 * QPC_CHAOS_ONLY=scale only the scale run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveScenario } from '@qpc/qualys-sim';
import { TcpProxy } from '@qpc/testing';
import { buildApps } from './apps.mjs';
import { badSchedule, dbOutage, ferretRestart, killRows, purgeDuringSync, redisRestart, simRestart, storm409, type Ctx, type Row } from './chaos/faults.ts';
import { scaleRun, type ScaleResult } from './chaos/scale.ts';
import { freePort, startFerret, startRedis } from './chaos/servers.ts';
import { Stack } from './chaos/stack.ts';

const hosts = Number(process.env.QPC_CHAOS_HOSTS ?? 20);
const only = process.env.QPC_CHAOS_ONLY ?? '';
const withScale = process.env.QPC_CHAOS_SCALE !== '0';
const reportId = '7001';
const scenario = resolveScenario({
  user: { login: 'demo', password: 'demo' },
  reports: [{ id: reportId, title: 'QPC-CHAOS', launched: '-1h', seed: 7001, size: { hosts, controls: 10, instancesPerControl: 2, policies: 1 } }],
});

const started = Date.now();
const dir = await mkdtemp(path.join(os.tmpdir(), 'qpc-chaos-'));
console.log(`chaos: state and logs in ${dir}`);
await buildApps(['api', 'scheduler', 'worker-fetch', 'worker-parse', 'worker-upsert']);
const ferret = await startFerret(dir);
const redis = await startRedis(dir);
// the apps reach the database through a proxy (cut for the outage row); the suite itself goes direct
const proxy = await new TcpProxy({ host: '127.0.0.1', port: ferret.port }).listen();
const redisUrl = `redis://127.0.0.1:${redis.port}`;
const env = {
  QPC_BATCH_SIZE: '50',
  QPC_MAX_PENDING_BATCHES: '2',
  QPC_WORKER_CONCURRENCY: '2',
  QPC_SHUTDOWN_TIMEOUT_MS: '5000',
  // a run nothing moves on is found after 20 s (default 5 min), so that the suite's recovery fits its time
  QPC_STUCK_AFTER_MS: '20000',
  // info: the start lines the suite waits for (the apps' logs go to apps.log in its temp folder)
  QPC_LOG_LEVEL: 'info',
};
const stack = await Stack.create({
  scenario,
  mongoUrl: `mongodb://127.0.0.1:${proxy.port}/chaos`,
  directMongoUrl: `mongodb://127.0.0.1:${ferret.port}/chaos`,
  redisUrl,
  logDir: dir,
  env,
});
const apiPort = await freePort();
stack.env.QPC_API_PORT = String(apiPort);
stack.apiUrl = `http://127.0.0.1:${apiPort}`;
const ctx: Ctx = { stack, ferret, redis, proxy, reportId, recoverMs: 240_000 };

// stopped by a signal: the suite's servers and apps go with it
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void Promise.allSettled([stack.stopAll(), ferret.stop('SIGKILL'), redis.stop('SIGKILL')]).then(() => process.exit(130));
  });
}

/**
 * The posture source under SIGKILL of each worker (apps/worker-upsert/test/posture-kill.chaos.ts: its own
 * stack of processes and simulator, on the suite's database server and Redis): met when every check holds.
 */
async function postureKill(ferretPort: number, redis: string): Promise<Row> {
  const t0 = Date.now();
  const r = spawnSync('npx', ['tap', '--reporter=terse', 'test/posture-kill.chaos.ts'], {
    cwd: path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'apps', 'worker-upsert'),
    env: { ...process.env, MONGO_URL: `mongodb://127.0.0.1:${ferretPort}/chaos`, REDIS_URL: redis },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const summary = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(r.stdout ?? '');
  const ok = r.status === 0;
  return {
    fault: 'SIGKILL each worker, posture sync',
    states: {},
    lost: 0,
    duplicated: 0,
    wronglyClosed: 0,
    wronglyOpen: 0,
    stuck: 0,
    recoverS: Math.round((Date.now() - t0) / 1000),
    ok,
    note: summary ? `${summary[2]} of ${summary[1]} checks held` : `tap exited ${r.status}`,
  };
}

const rows: Row[] = [];
let scale: ScaleResult | null = null;
let exitCode = 0;
try {
  for (const app of ['api', 'scheduler', 'worker-fetch', 'worker-parse', 'worker-upsert']) await stack.start(`${app}#1`);
  const faults: [string, () => Promise<Row | Row[]>][] = [
    ['SIGKILL fetch', () => killRows(ctx, 'worker-fetch')],
    ['SIGKILL parse', () => killRows(ctx, 'worker-parse')],
    ['SIGKILL upsert', () => killRows(ctx, 'worker-upsert')],
    ['Qualys side killed', () => simRestart(ctx)],
    ['database server SIGKILLed', () => ferretRestart(ctx)],
    ['database unreachable', () => dbOutage(ctx)],
    ['Redis SIGKILLed', () => redisRestart(ctx)],
    ['409 storm', () => storm409(ctx)],
    ['purge during a sync', () => purgeDuringSync(ctx)],
    ['bad cron', () => badSchedule(ctx)],
    ['SIGKILL each worker, posture sync', () => postureKill(ferret.port, redisUrl)],
  ];
  for (const [name, fn] of faults) {
    if (only && (only === 'scale' || !name.includes(only))) continue;
    try {
      for (const r of [await fn()].flat()) {
        rows.push(r);
        console.log(`chaos: ${r.ok ? 'ok' : 'FAIL'} ${r.fault}: ${JSON.stringify(r.states)} lost ${r.lost} dup ${r.duplicated} closed ${r.wronglyClosed} stuck ${r.stuck} ${r.recoverS} s${r.note ? ` (${r.note})` : ''}`);
      }
    } catch (err) {
      const r: Row = { fault: name, states: {}, lost: 0, duplicated: 0, wronglyClosed: 0, wronglyOpen: 0, stuck: 0, recoverS: 0, ok: false, note: `suite error: ${(err as Error).message}` };
      rows.push(r);
      console.log(`chaos: FAIL ${name}: ${r.note}`);
    }
  }
  await stack.stopAll();
  if ((withScale && !only) || only === 'scale') scale = await scaleRun(stack);
} finally {
  await stack.close().catch(() => undefined);
  await proxy.close();
  await ferret.stop('SIGTERM');
  await redis.stop('SIGTERM');
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
console.log('\n| fault | runs in each final state | lost | duplicated | wrongly closed (or open) | stuck | s to recover | goal |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const states = Object.entries(r.states).map(([s, n]) => `${s} ${n}`).join(', ') || '-';
  console.log(`| ${pad(r.fault, 50)} | ${states} | ${r.lost} | ${r.duplicated} | ${r.wronglyClosed + r.wronglyOpen} | ${r.stuck} | ${r.recoverS} | ${r.ok ? 'met' : `MISSED${r.note ? `: ${r.note}` : ''}`} |`);
}
if (scale) {
  console.log('\n| processes per worker kind | findings | seconds | findings/s |');
  console.log('|---|---|---|---|');
  for (const t of scale.throughput) console.log(`| ${t.perKind} | ${t.findings} | ${t.seconds} | ${t.perSecond} |`);
  console.log(`scale under SIGKILL (3 per kind, 2 schedulers, 4 connectors, ${scale.kills} kills): ${scale.ok ? 'met' : `MISSED: ${scale.note}`}`);
}
const scaleRows = scale ? [scale.ok] : [];
const passed = rows.filter((r) => r.ok).length + scaleRows.filter(Boolean).length;
const failed = rows.length + scaleRows.length - passed;
if (failed > 0) exitCode = 1;
console.log(`suite time: ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`# { total: ${passed + failed}, pass: ${passed}, fail: ${failed} }`);
if (exitCode === 0) await rm(dir, { recursive: true, force: true });
else console.log(`chaos: logs kept in ${dir}`);
console.log(
  JSON.stringify({
    faults: rows.length,
    lost: rows.reduce((n, r) => n + r.lost, 0),
    duplicated: rows.reduce((n, r) => n + r.duplicated, 0),
    wrongly_closed: rows.reduce((n, r) => n + r.wronglyClosed + r.wronglyOpen, 0),
    stuck: rows.reduce((n, r) => n + r.stuck, 0),
    max_recover_s: Math.max(0, ...rows.map((r) => r.recoverS)),
    failed_rows: failed,
    ...(scale ? { scale_findings_per_s: Object.fromEntries(scale.throughput.map((t) => [t.perKind, t.perSecond])) } : {}),
  }),
);
process.exit(exitCode);
