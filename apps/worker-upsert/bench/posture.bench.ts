/**
 * `npm run bench -- posture` (with the parser bench of packages/pc-posture): end to end, one generated
 * estate synced from its Policy Report into one network and from the Compliance Posture API (paged) into
 * another, the workers as separate processes (the apps' bundles, as `npm start` runs them) against the
 * local Redis and MongoDB-wire server. Prints findings/s of each source, their ratio, and the peak RSS of
 * each worker per source (the workers are restarted between the two syncs so that each peak is its own;
 * goal <= 200 MB).
 *
 * Size: QPC_BENCH_HOSTS x QPC_BENCH_CONTROLS (1 instance, 1 policy; default 500 x 20 = 10,000 findings);
 * rows per posture page QPC_BENCH_POSTURE_PAGE (default 1,000, the API's default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';
import { createEnqueuer } from '@qpc/jobs';
import { resolveScenario, startSimulator } from '@qpc/qualys-sim';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, type RunDoc } from '@qpc/store/db';
import { createConnector } from '@qpc/store/connectors';
import { isTerminal } from '@qpc/store/pipeline';
import { deletePrefix, mongoUrlFor, serviceUrls } from '@qpc/testing';
import { connectionOptions } from '@qpc/worker-kit';
import { appArgs, buildApps } from '../../../scripts/apps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hosts = Number(process.env.QPC_BENCH_HOSTS ?? 500);
const controls = Number(process.env.QPC_BENCH_CONTROLS ?? 20);
const pageRows = Number(process.env.QPC_BENCH_POSTURE_PAGE ?? 1000);
const RSS_GOAL_MB = 200;
const { redisUrl, mongoUrl: baseMongo } = serviceUrls();
const dbName = `bench_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
const mongoUrl = mongoUrlFor(baseMongo, dbName);
const prefix = `bench-${randomUUID()}`;
const key = randomBytes(32);

const spec = { id: '9101', title: 'QPC-BENCH-P', launched: '-1h', seed: 9101, size: { hosts, controls, instancesPerControl: 1, policies: 1 }, ratios: { passed: 6, failed: 3, error: 1 }, firstPolicyId: 9101 };
const sim = await startSimulator({ port: 0, scenario: resolveScenario({ user: { login: 'demo', password: 'demo' }, reports: [spec] }) });
const mongo = new MongoClient(mongoUrl);
await mongo.connect();
const db = mongo.db(dbName);
await ensureIndexes(db);
const store = createStore(db);
const redis = new Redis(redisUrl);
const env = {
  PATH: process.env.PATH ?? '',
  REDIS_URL: redisUrl,
  MONGO_URL: mongoUrl,
  QPC_QUEUE_PREFIX: prefix,
  QPC_SECRET_KEY: key.toString('base64'),
  QPC_SECRET_KEY_ID: 'k1',
  QPC_ALLOW_HTTP: '1',
  QPC_LOG_LEVEL: 'warn',
  QPC_BATCH_SIZE: '1000',
  QPC_MAX_PENDING_BATCHES: '8',
  QPC_WORKER_CONCURRENCY: '2',
  QPC_POSTURE_PAGE_ROWS: String(pageRows),
};
const apps = ['worker-fetch', 'worker-parse', 'worker-upsert'] as const;
await buildApps(apps);
const box = createSecretBox({ keys: { k1: key }, currentKeyId: 'k1' });
const enqueuer = createEnqueuer({ connection: connectionOptions(redisUrl, 'producer'), prefix });

async function measure(label: string, connectorId: string): Promise<{ run: RunDoc; seconds: number; rss: Record<string, number> }> {
  const procs = new Map<string, ChildProcess>();
  for (const app of apps) procs.set(app, spawn(process.execPath, appArgs(app), { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] }));
  await new Promise((r) => setTimeout(r, 4000));
  const rss = new Map<string, number>();
  const sample = () => {
    for (const [app, p] of procs) {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m) rss.set(app, Math.max(rss.get(app) ?? 0, Number(m[1]) / 1024));
      } catch {
        /* exited */
      }
    }
  };
  const t0 = Date.now();
  const { jobId: syncId } = await enqueuer.requestSync({ connectorId, requestId: `bench-${label}` });
  let run: RunDoc | null = null;
  for (;;) {
    sample();
    run = await store.col.runs.findOne({ syncId });
    if (run && isTerminal(run.state) && !(await store.col.syncLocks.findOne({ syncId }))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  sample();
  const seconds = (Date.now() - t0) / 1000;
  for (const p of procs.values()) p.kill('SIGTERM');
  await Promise.all([...procs.values()].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
  return { run, seconds, rss: Object.fromEntries([...rss].map(([a, v]) => [a, Math.round(v)])) };
}

const rounds = Number(process.env.QPC_BENCH_ROUNDS ?? 2);
console.log(`estate: ${hosts} hosts x ${controls} controls; posture pages of ${pageRows} rows; ${rounds} rounds, the order alternating, each sync into a network of its own`);
type Result = { state: string; findings: number; seconds: number; findings_per_s: number; mb: number; pages?: number; peak_rss_mb: Record<string, number> };
const all: Record<'report' | 'posture', Result[]> = { report: [], posture: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? (['report', 'posture'] as const) : (['posture', 'report'] as const);
  for (const label of order) {
    const name = `bench-${label}-${round}`;
    const c = await createConnector(store, box, {
      name, url: sim.url, username: 'demo', password: 'demo', network: name,
      ...(label === 'report' ? { reportTitlePrefix: 'QPC-BENCH-P' } : { reportTitlePrefix: '', source: 'posture' as const, posture: { policyIds: [String(spec.firstPolicyId)] } }),
    });
    const { run, seconds, rss } = await measure(name, c._id);
    const findings = run.counts.findingsParsed;
    const r: Result = {
      state: run.state,
      findings,
      seconds: Number(seconds.toFixed(1)),
      findings_per_s: Math.round(findings / seconds),
      mb: Number((run.counts.bytes / 1e6).toFixed(1)),
      ...(run.posture ? { pages: run.posture.pages.length } : {}),
      peak_rss_mb: rss,
    };
    all[label].push(r);
    console.log(`${label} (round ${round + 1}): run ${run.state}, ${findings} findings, ${r.mb} MB${r.pages ? ` in ${r.pages} pages` : ''}, ${r.seconds} s = ${r.findings_per_s} findings/s; peak RSS MB ${JSON.stringify(rss)} (goal <= ${RSS_GOAL_MB})`);
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const peak = (rs: Result[]) => {
  const out: Record<string, number> = {};
  for (const r of rs) for (const [a, v] of Object.entries(r.peak_rss_mb)) out[a] = Math.max(out[a] ?? 0, v);
  return out;
};
const results = {
  report: { findings_per_s: median(all.report.map((r) => r.findings_per_s)), peak_rss_mb: peak(all.report), runs: all.report },
  posture: { findings_per_s: median(all.posture.map((r) => r.findings_per_s)), peak_rss_mb: peak(all.posture), runs: all.posture },
};
console.log(`median findings/s: report ${results.report.findings_per_s}, posture ${results.posture.findings_per_s}`);
const ratio = Number((results.posture!.findings_per_s / results.report!.findings_per_s).toFixed(2));
const rssMet = [results.report, results.posture].every((r) => Object.values(r.peak_rss_mb).every((v) => v <= RSS_GOAL_MB));
console.log(`posture / report findings/s: ${ratio}; every worker <= ${RSS_GOAL_MB} MB: ${rssMet ? 'met' : 'MISSED'}`);

await enqueuer.close();
await deletePrefix(redis, prefix);
await redis.quit();
for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) await db.dropCollection(c.name).catch(() => undefined);
await new Promise((r) => setTimeout(r, 1000));
await db.dropDatabase();
await mongo.close();
await sim.close();
console.log(JSON.stringify({ bench: 'posture-pipeline', hosts, controls, page_rows: pageRows, mongo_backend: process.env.MONGO_BACKEND ?? null, ...results, posture_to_report: ratio, rss_goal_mb: RSS_GOAL_MB, rss_goal_met: rssMet }));
