/**
 * `npm run bench -- pipeline`: one generated report end to end (simulator over HTTP -> worker-fetch ->
 * GridFS -> worker-parse -> staged batches -> worker-upsert -> finalize), the workers as separate
 * processes against the local Redis and MongoDB-wire server; then, in the same run, a plain driver
 * bulkWrite of the same finding documents into the same server (the write ceiling).
 *
 * Size: QPC_BENCH_HOSTS x QPC_BENCH_CONTROLS (1 instance, 1 policy). The issue's size is 10,000 x 100
 * (1M findings, QPC_BENCH_FULL=1); the default is small so that a run takes a minute. On FerretDB 1.24
 * (SQLite) the server's insert rate falls as the collection grows (1,300/s into an empty one, ~800/s at
 * 100,000) and the ceiling is measured on at most QPC_BENCH_CEILING_DOCS documents (default 100,000;
 * every document with QPC_BENCH_FULL=1). Figures: README, Performance.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BSON, MongoClient, type Document } from 'mongodb';
import { Redis } from 'ioredis';
import { createEnqueuer } from '@qpc/jobs';
import { expectedRecords, resolveScenario, startSimulator } from '@qpc/qualys-sim';
import { createSecretBox } from '@qpc/secrets';
import { createStore, ensureIndexes } from '@qpc/store/db';
import { createConnector } from '@qpc/store/connectors';
import { isTerminal } from '@qpc/store/pipeline';
import { keyedUpdate } from '@qpc/store/inventory';
import { deletePrefix, mongoUrlFor, serviceUrls } from '@qpc/testing';
import { connectionOptions } from '@qpc/worker-kit';
import { appArgs, buildApps } from '../../../scripts/apps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const full = process.env.QPC_BENCH_FULL === '1';
const hosts = Number(process.env.QPC_BENCH_HOSTS ?? (full ? 10_000 : 100));
const controls = Number(process.env.QPC_BENCH_CONTROLS ?? (full ? 100 : 10));
const { redisUrl, mongoUrl: baseMongo } = serviceUrls();
const dbName = `bench_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
const mongoUrl = mongoUrlFor(baseMongo, dbName);
const prefix = `bench-${randomUUID()}`;
const key = randomBytes(32);

const spec = { id: '9001', title: 'QPC-BENCH', launched: '-1h', seed: 9001, size: { hosts, controls, instancesPerControl: 1, policies: 1 }, ratios: { passed: 6, failed: 3, error: 1 } };
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
  QPC_BATCH_SIZE: process.env.QPC_BATCH_SIZE ?? '1000',
  QPC_MAX_PENDING_BATCHES: '8',
  // 2 batches in flight per write worker: on FerretDB's one SQLite writer more do not write faster (20,000
  // findings: 27.6 / 24.8 / 24.4 s at 1 / 2 / 4), and each costs its records and documents in memory
  QPC_WORKER_CONCURRENCY: process.env.QPC_WORKER_CONCURRENCY ?? '2',
};
const apps = ['worker-fetch', 'worker-parse', 'worker-upsert'] as const;
const procs = new Map<string, ChildProcess>();
await buildApps(apps);
// QPC_BENCH_NODE_FLAGS: Node flags to try on the workers, before the usual ones (e.g. --max-old-space-size=96)
const extraFlags = (process.env.QPC_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
for (const app of apps) {
  // the workers' bundles with the Node flags `npm start` and the Docker image use
  const child = spawn(process.execPath, [...extraFlags, ...appArgs(app)], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.set(app, child);
}
await new Promise((r) => setTimeout(r, 4000));

const rssPeak = new Map<string, number>();
let redisPeak = 0;
const sample = async () => {
  for (const [app, p] of procs) {
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      if (m) rssPeak.set(app, Math.max(rssPeak.get(app) ?? 0, Number(m[1]) / 1024));
    } catch {
      /* exited */
    }
  }
  let cursor = '0';
  let bytes = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) bytes += Number((await redis.memory('USAGE', k)) ?? 0);
  } while (cursor !== '0');
  redisPeak = Math.max(redisPeak, bytes);
};

const box = createSecretBox({ keys: { k1: key }, currentKeyId: 'k1' });
const connector = await createConnector(store, box, { name: 'bench', url: sim.url, username: 'demo', password: 'demo', network: 'bench', reportTitlePrefix: 'QPC-BENCH', autoUrba: false });
const enqueuer = createEnqueuer({ connection: connectionOptions(redisUrl, 'producer'), prefix });
// CPU seconds (user + system) of a process, from /proc; the database server's pid is known when
// `npm run services` started it. Where the time goes: the server does about the same work per finding in
// the pipeline as in the ceiling, the workers' own work shares the same cores.
const serverPid = (() => {
  try {
    return readFileSync(path.join(ROOT, '.qpc', 'services', `mongo-${new URL(baseMongo).port || '27017'}.pid`), 'utf8').trim();
  } catch {
    return null;
  }
})();
// which server the figures are of: MONGO_BACKEND (as `npm run services` prints it), else what it recorded
// for the server it started (ferretdb-postgresql, ferretdb-sqlite, mongodb)
const mongoBackend = (() => {
  if (process.env.MONGO_BACKEND) return process.env.MONGO_BACKEND;
  try {
    return readFileSync(path.join(ROOT, '.qpc', 'services', `mongo-${new URL(baseMongo).port || '27017'}.backend`), 'utf8').trim();
  } catch {
    return null;
  }
})();
const cpu = (pid: string | number | null | undefined): number | null => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
};
const cpuSince = (pid: string | number | null | undefined, since: number | null) => {
  const now = cpu(pid);
  return now === null || since === null ? null : Number((now - since).toFixed(1));
};
const serverCpu0 = cpu(serverPid);
const t0 = Date.now();
const { jobId: syncId } = await enqueuer.requestSync({ connectorId: connector._id, requestId: 'bench' });
let run = null;
// the sync is over when its run has ended and the connector's sync lock is released; memory is sampled
// every second, the end looked for every 100 ms
let sampled = 0;
for (;;) {
  if (Date.now() - sampled >= 1000) {
    await sample();
    sampled = Date.now();
  }
  run = await store.col.runs.findOne({ syncId });
  if (run && isTerminal(run.state) && !(await store.col.syncLocks.findOne({ syncId }))) break;
  await new Promise((r) => setTimeout(r, 100));
}
await sample();
const seconds = (Date.now() - t0) / 1000;
const cpuPipeline = { server: cpuSince(serverPid, serverCpu0), ...Object.fromEntries([...procs].map(([a, p]) => [a, cpuSince(p.pid, 0)])) };
console.log(`  CPU seconds (workers: since they started): ${JSON.stringify(cpuPipeline)}`);
const findings = run.counts.findingsParsed;
const stageS = (ms: number | null) => (ms ?? 0) / 1000;
const perS = (s: number) => (s > 0 ? Math.round(findings / s) : null);
console.log(`run ${run.state}: ${findings} findings, ${run.counts.hostsParsed} hosts, ${(run.counts.bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s`);
const at = (d: Date | null | undefined) => (d ? ((d.getTime() - t0) / 1000).toFixed(1) : '-');
console.log(`  stage start/end (s after the sync was requested): ${Object.entries(run.timings).map(([k, v]) => `${k} ${at(v.startedAt)}-${at(v.endedAt)}`).join(', ')}; run ended ${at(run.endedAt)}`);
console.log(`  fetch ${stageS(run.timings.fetch.ms)} s, parse ${stageS(run.timings.parse.ms)} s, write ${stageS(run.timings.write.ms)} s, finalize ${stageS(run.timings.finalize.ms)} s`);

// the write ceiling: the same finding documents (same _id), plain unordered bulkWrite inserts of 1,000,
// same server, into a collection with the findings collection's indexes (every index costs each insert).
// The documents are first copied to a local file with one cursor, then written from it, timed on the
// writes alone: a cursor left open while writing makes FerretDB's SQLite keep every write in its WAL (it
// cannot checkpoint past an open read): 58 GB after half an hour of a 1M-document ceiling. At most
// QPC_BENCH_CEILING_DOCS documents (default 100,000: a larger report's ceiling is then measured on its
// first 100,000, into a collection that stays smaller than the one the pipeline filled, which favours
// the ceiling; QPC_BENCH_FULL=1 measures all of them).
const ceilingMax = Number(process.env.QPC_BENCH_CEILING_DOCS ?? (full ? Number.MAX_SAFE_INTEGER : 100_000));
const ceilingCol = db.collection('ceiling');
for (const ix of await db.collection('findings').listIndexes().toArray()) {
  if (ix.name === '_id_') continue;
  await ceilingCol.createIndex(ix.key, { name: ix.name, unique: ix.unique === true, ...(ix.partialFilterExpression ? { partialFilterExpression: ix.partialFilterExpression } : {}) });
}
const copyDir = await mkdtemp(path.join(os.tmpdir(), 'qpc-bench-'));
const copyFile = path.join(copyDir, 'findings.bson');
const sampleDocs: Document[] = [];
{
  const out = createWriteStream(copyFile);
  for await (const d of db.collection('findings').find({}, { batchSize: 1000 }).limit(ceilingMax)) {
    if (sampleDocs.length < 2000) sampleDocs.push({ ...d });
    if (!out.write(BSON.serialize(d))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}
/** The documents of the copy, one after another (each BSON document starts with its length). */
async function* copiedDocs(): AsyncGenerator<Document> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(copyFile, { highWaterMark: 1 << 20 })) {
    buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
    let at = 0;
    while (buf.length - at >= 4 && buf.length - at >= buf.readInt32LE(at)) {
      const len = buf.readInt32LE(at);
      yield BSON.deserialize(buf.subarray(at, at + len));
      at += len;
    }
    buf = buf.subarray(at);
  }
}
const serverCpu1 = cpu(serverPid);
const benchCpu1 = process.cpuUsage();
let ceilingMs = 0;
let ceilingDocs = 0;
let page: Document[] = [];
const writePage = async () => {
  const c0 = performance.now();
  await ceilingCol.bulkWrite(page.map((d) => ({ insertOne: { document: d } })), { ordered: false });
  ceilingMs += performance.now() - c0;
  ceilingDocs += page.length;
  page = [];
};
for await (const d of copiedDocs()) {
  page.push(d);
  if (page.length === 1000) await writePage();
}
if (page.length) await writePage();
await rm(copyDir, { recursive: true, force: true });
const benchCpu = process.cpuUsage(benchCpu1);
const cpuCeiling = { server: cpuSince(serverPid, serverCpu1), client: Number(((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)), writes_s: Number((ceilingMs / 1000).toFixed(1)) };
console.log(`  ceiling CPU seconds (reading its local copy included): ${JSON.stringify(cpuCeiling)}`);
const writeCeiling = Math.round(ceilingDocs / (ceilingMs / 1000));
// and a plain bulkWrite of upserts of the same documents over themselves (what an idempotent writer
// must do), addressed as the pipeline addresses them (by _id, see keyedUpdate in @qpc/store)
// (in groups of 10 for at most 20 s: on FerretDB each update reads the whole collection)
let upserted = 0;
const u0 = Date.now();
while (upserted < sampleDocs.length && Date.now() - u0 < 20_000) {
  await ceilingCol.bulkWrite(
    sampleDocs.slice(upserted, upserted + 10).map(({ _id, ...d }) => keyedUpdate<Document>({ _id }, { $set: d }, { upsert: true })),
    { ordered: false },
  );
  upserted = Math.min(sampleDocs.length, upserted + 10);
}
const upsertCeiling = Number((upserted / ((Date.now() - u0) / 1000)).toFixed(1));
const expected = [...expectedRecords(sim.scenario.reports[0]!)].filter((r) => r.type === 'finding').length;

const result = {
  mongo_backend: mongoBackend,
  findings,
  expected_findings: expected,
  state: run.state,
  seconds: Number(seconds.toFixed(1)),
  findings_per_s: Math.round(findings / seconds),
  stage_findings_per_s: { fetch: perS(stageS(run.timings.fetch.ms)), parse: perS(stageS(run.timings.parse.ms)), write: perS(stageS(run.timings.write.ms)), finalize: perS(stageS(run.timings.finalize.ms)) },
  write_ceiling_per_s: writeCeiling,
  write_ceiling_docs: ceilingDocs,
  upsert_ceiling_per_s: upsertCeiling,
  ratio: Number((findings / seconds / writeCeiling).toFixed(3)),
  cpu_s: { pipeline: cpuPipeline, ceiling: cpuCeiling },
  peak_rss_mb: Object.fromEntries([...rssPeak].map(([a, v]) => [a, Math.round(v)])),
  redis_peak_mb: Number((redisPeak / 1048576).toFixed(2)),
};
console.log(`write ceiling (plain bulkWrite inserts of ${ceilingDocs} documents): ${writeCeiling}/s; plain upserts of existing documents by _id (${upserted} in 20 s at most): ${upsertCeiling}/s`);

for (const p of procs.values()) p.kill('SIGTERM');
await Promise.all([...procs.values()].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
await enqueuer.close();
await deletePrefix(redis, prefix);
await redis.quit();
for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) await db.dropCollection(c.name).catch(() => undefined);
await new Promise((r) => setTimeout(r, 1000));
await db.dropDatabase();
await mongo.close();
await sim.close();
console.log(JSON.stringify(result));
