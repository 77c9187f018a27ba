/**
 * A whole pipeline for a test: a private Mongo database and queue prefix, the simulator over HTTP, and
 * the apps as separate processes (`node --import tsx apps/<app>/src/main.ts`), killable at will.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnqueuer, type Enqueuer } from '@qpc/jobs';
import { startSimulator, expectedRecords, resolveScenario, type Simulator, type ScenarioFile } from '@qpc/qualys-sim';
import { createSecretBox, type SecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes, type RunDoc, type Store } from '@qpc/store/db';
import { createConnector, type NewConnector } from '@qpc/store/connectors';
import { isTerminal } from '@qpc/store/pipeline';
import { mongoUrlFor, serviceUrls, testRedis, waitFor, type Teardown } from '@qpc/testing';
import { MongoClient } from 'mongodb';
import { connectionOptions } from '@qpc/worker-kit';
import type { FindingRecord, HostRecord } from '@qpc/pc-report';
import type { Redis } from 'ioredis';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export type AppName = 'scheduler' | 'worker-fetch' | 'worker-parse' | 'worker-upsert';
export const WORKERS: AppName[] = ['worker-fetch', 'worker-parse', 'worker-upsert'];

export interface Stack {
  store: Store;
  box: SecretBox;
  sim: Simulator;
  redis: Redis;
  prefix: string;
  env: Record<string, string>;
  enqueuer: Enqueuer;
  procs: Map<AppName, ChildProcess>;
  logs: Map<AppName, string[]>;
  start(app: AppName, extraEnv?: Record<string, string>): Promise<ChildProcess>;
  kill(app: AppName, signal?: NodeJS.Signals): Promise<void>;
  connector(input?: Partial<NewConnector>): Promise<string>;
  sync(connectorId: string, opts?: { reingest?: boolean; timeoutMs?: number }): Promise<RunDoc[]>;
  requestSync(connectorId: string, opts?: { reingest?: boolean }): Promise<string>;
  waitSync(syncId: string, timeoutMs?: number): Promise<RunDoc[]>;
}

export async function startStack(t: Teardown, opts: { scenario: ScenarioFile; apps?: AppName[]; env?: Record<string, string> }): Promise<Stack> {
  const { redis, prefix, redisUrl } = await testRedis(t);
  // own database handling (not testMongo): the apps must be stopped BEFORE the database is dropped,
  // FerretDB's SQLite backend crashes when a file is removed under a reader
  const dbName = `test_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const mongoUrl = mongoUrlFor(serviceUrls().mongoUrl, dbName);
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  await mongo.connect();
  const db = mongo.db(dbName);
  await ensureIndexes(db);
  const store = createStore(db);
  const key = randomBytes(32);
  const box = createSecretBox({ keys: { k1: key }, currentKeyId: 'k1' });
  const sim = await startSimulator({ port: 0, scenario: resolveScenario(opts.scenario) });
  t.teardown(() => sim.close());
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    REDIS_URL: redisUrl,
    MONGO_URL: mongoUrl,
    QPC_QUEUE_PREFIX: prefix,
    QPC_SECRET_KEY: key.toString('base64'),
    QPC_SECRET_KEY_ID: 'k1',
    QPC_ALLOW_HTTP: '1',
    QPC_LOG_LEVEL: 'info',
    QPC_BATCH_SIZE: '200',
    QPC_MAX_PENDING_BATCHES: '4',
    QPC_SHUTDOWN_TIMEOUT_MS: '5000',
    ...opts.env,
  };
  const enqueuer = createEnqueuer({ connection: connectionOptions(redisUrl, 'producer'), prefix });
  const procs = new Map<AppName, ChildProcess>();
  const logs = new Map<AppName, string[]>();

  const stack: Stack = {
    store, box, sim, redis, prefix, env, enqueuer, procs, logs,
    async start(app, extraEnv = {}) {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join('apps', app, 'src', 'main.ts')], {
        cwd: ROOT,
        env: { ...env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      logs.set(app, lines);
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString('utf8');
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        lines.push(...parts);
        if (lines.length > 2000) lines.splice(0, lines.length - 2000);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      procs.set(app, child);
      await waitFor(() => lines.some((l) => l.includes(' started')) || child.exitCode !== null, 30_000);
      if (child.exitCode !== null) throw new Error(`${app} exited at start: ${lines.slice(-5).join('\n')}`);
      return child;
    },
    async kill(app, signal = 'SIGKILL') {
      const child = procs.get(app);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(timer);
    },
    async connector(input = {}) {
      const c = await createConnector(store, box, {
        name: `c-${randomUUID()}`,
        url: sim.url,
        username: 'demo',
        password: 'demo',
        network: 'net-1',
        reportTitlePrefix: 'QPC-T',
        autoUrba: true,
        ...input,
      });
      return c._id;
    },
    async requestSync(connectorId, o = {}) {
      const { jobId } = await enqueuer.requestSync({ connectorId, reingest: o.reingest ?? false }, { joinQueued: false });
      return jobId;
    },
    async waitSync(syncId, timeoutMs = 90_000) {
      const t0 = Date.now();
      return waitFor(async () => {
        if (Date.now() - t0 > timeoutMs - 300) {
          const runs = await store.col.runs.find({ syncId }).toArray();
          const dump = runs.map((r) => `${r._id} ${r.reportId} ${r.state} ${JSON.stringify(r.error)} parse=${JSON.stringify(r.parse)}`).join('\n');
          const tail = [...logs].map(([a, l]) => `--- ${a}\n${l.slice(-8).join('\n')}`).join('\n');
          const batches = await store.col.batches.find({}, { projection: { records: 0 } }).toArray();
          const counts: Record<string, unknown> = {};
          for (const q of ['sync', 'fetch', 'parse', 'upsert', 'finalize'] as const) counts[q] = await enqueuer.queue(q).getJobCounts();
          writeFileSync(`/tmp/qpc-sync-debug.txt`, `${dump}\n${JSON.stringify(batches)}\n${JSON.stringify(counts)}\n${tail}\n`);
          throw new Error(`sync ${syncId} did not finish:\n${dump}\n${tail}`);
        }
        const runs = await store.col.runs.find({ syncId }).sort({ index: 1 }).toArray();
        if (runs.length === 0 || !runs.every((r) => isTerminal(r.state))) return null;
        const lock = await store.col.syncLocks.findOne({ syncId });
        return lock ? null : runs;
      }, timeoutMs, 200);
    },
    async sync(connectorId, o = {}) {
      return stack.waitSync(await stack.requestSync(connectorId, o), o.timeoutMs);
    },
  };
  t.teardown(async () => {
    await Promise.all([...procs.keys()].map((a) => stack.kill(a, 'SIGTERM')));
    await enqueuer.close();
    // FerretDB (SQLite) has crashed when a database file was removed while a cursor of a killed client
    // was still being closed: drop the collections first, give it a moment, then the database
    for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) await db.dropCollection(c.name).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_000));
    await db.dropDatabase().catch(() => undefined);
    await mongo.close();
  });
  for (const app of opts.apps ?? []) await stack.start(app);
  return stack;
}

/** The generator's ground truth for one report of the simulator's scenario. */
export function groundTruth(sim: Simulator, reportId: string): { hosts: Map<string, HostRecord>; findings: Map<string, FindingRecord> } {
  const spec = sim.scenario.reports.find((r) => r.id === reportId);
  if (!spec) throw new Error(`no report ${reportId}`);
  const hosts = new Map<string, HostRecord>();
  const findings = new Map<string, FindingRecord>();
  for (const rec of expectedRecords(spec)) {
    if (rec.type === 'host') hosts.set(rec.hostKey, rec);
    else if (rec.type === 'finding') findings.set(rec.findingKey, rec);
  }
  return { hosts, findings };
}

/** Everything that must not differ between two databases after the same syncs (ids and times aside). */
export async function dbState(store: Store) {
  const hosts = await store.col.hosts
    .find({}, { projection: { _id: 0, firstSeen: 0, lastSeen: 0, firstSeenRunId: 0, lastRunId: 0 } })
    .sort({ network: 1, hostKey: 1 })
    .toArray();
  const findings = await store.col.findings
    .find({}, { projection: { _id: 0, hostId: 0, firstSeen: 0, lastSeen: 0, firstSeenRunId: 0, lastSeenRunId: 0, statusRunId: 0, closedAt: 0, history: 0 } })
    .sort({ network: 1, findingKey: 1 })
    .toArray();
  const historyReasons = (await store.col.findings.find({}, { projection: { findingKey: 1, history: 1 } }).sort({ findingKey: 1 }).toArray()).map(
    (f) => `${f.findingKey}:${f.history.map((h) => h.reason).join(',')}`,
  );
  return { hosts, findings, historyReasons };
}
