#!/usr/bin/env node
// `npm run demo [-- --once]`: the whole connector on this machine.
// 1. installs dependencies when node_modules is missing; 2. `npm run services` (Redis + a MongoDB-wire
// server; its REDIS_URL= / MONGO_URL= lines are parsed); 3. the Qualys simulator with a small demo
// scenario and every app as child processes; 4. a demo connector (auto URBA on); 5. a sync, then the
// simulator publishes a changed copy of the report and a second sync ingests it (closed as passed,
// reopened, URBA); 6. hosts and findings per status and severity; 7. keeps running until Ctrl-C
// (`--once`: exits after the summary, stopping every child).
// The demo uses its own database (qpc_demo, emptied at start) and queue prefix (qpc-demo).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { appArgs, buildApps, buildWeb } from './apps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const once = process.argv.includes('--once');
const stateDir = path.join(root, '.qpc', 'demo');
mkdirSync(stateDir, { recursive: true });
const children = [];
let stopping = false;

const say = (msg) => console.log(`demo: ${msg}`);
function fail(msg) {
  console.error(`demo: ${msg}`);
  stopAll(1);
}

// 1. dependencies
if (!existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
  say('installing dependencies (npm install)...');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// 2. services
say('starting services (npm run services)...');
const services = spawnSync('npm', ['run', '--silent', 'services'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (services.status !== 0) {
  console.error(services.stdout);
  process.exit(services.status ?? 1);
}
const urls = Object.fromEntries(
  services.stdout
    .split('\n')
    .map((l) => /^(REDIS_URL|MONGO_URL)=(.+)$/.exec(l.trim()))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);
if (!urls.REDIS_URL || !urls.MONGO_URL) {
  console.error(`demo: npm run services printed no REDIS_URL/MONGO_URL:\n${services.stdout}`);
  process.exit(1);
}
const mongo = new URL(urls.MONGO_URL);
mongo.pathname = '/qpc_demo';

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const simPort = await freePort();
const apiPort = Number(process.env.QPC_API_PORT || 8080);
const env = {
  ...process.env,
  REDIS_URL: urls.REDIS_URL,
  MONGO_URL: mongo.toString(),
  QPC_QUEUE_PREFIX: 'qpc-demo',
  QPC_SECRET_KEY: process.env.QPC_SECRET_KEY || randomBytes(32).toString('base64'),
  QPC_API_TOKEN: process.env.QPC_API_TOKEN || randomBytes(24).toString('base64url'),
  QPC_API_PORT: String(apiPort),
  QPC_ALLOW_HTTP: '1',
  QPC_LOG_LEVEL: process.env.QPC_LOG_LEVEL || 'info',
  QPC_BATCH_SIZE: process.env.QPC_BATCH_SIZE || '250',
};

// the demo scenario: one report, then the same title again as a changed copy (published before sync 2);
// generated when launched, so the console shows their data as fresh
const generated = (days) => new Date(Math.floor(Date.now() / 1000 - days * 86400) * 1000).toISOString().replace('.000Z', 'Z');
const base = { id: '7001', title: 'QPC-DEMO Servers', launched: '-2d', seed: 7001, size: { hosts: 30, controls: 5, instancesPerControl: 1, policies: 1 }, generatedAt: generated(2) };
const changed = {
  id: '7002',
  title: 'QPC-DEMO Servers',
  launched: '-1d',
  derivedFrom: '7001',
  generatedAt: generated(1),
  mutations: [
    { type: 'flip', percent: 15 },
    { type: 'dropControls', cids: ['1001', '1002'], firstHosts: 10 },
  ],
};
const scenario1 = path.join(stateDir, 'scenario-1.json');
const scenario2 = path.join(stateDir, 'scenario-2.json');
writeFileSync(scenario1, JSON.stringify({ user: { login: 'demo', password: 'demo' }, reports: [base] }, null, 2));
writeFileSync(scenario2, JSON.stringify({ user: { login: 'demo', password: 'demo' }, reports: [base, changed] }, null, 2));
writeFileSync(path.join(stateDir, 'api-token'), `${env.QPC_API_TOKEN}\n`, { mode: 0o600 });

// one process: node with nodeArgs (an app's bundle as `npm start` runs it, or the CLI through tsx)
function start(name, nodeArgs, { ready, quiet = false } = {}) {
  // an app's bundle gets an IPC channel: it closes if this script dies, even SIGKILLed, and the app then
  // shuts itself down (worker-kit's onShutdown; the simulator, run through the CLI, does not watch one)
  const stdio = nodeArgs.some((a) => a.endsWith('.mjs')) ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const child = spawn(process.execPath, nodeArgs, { cwd: root, env, stdio, detached: true });
  children.push(child);
  let isReady = false;
  const readyP = new Promise((resolve, reject) => {
    const onLine = (line) => {
      if (!quiet || !isReady) process.stdout.write(`${name.padEnd(13)}| ${line}\n`);
      if (!isReady && ready.test(line)) {
        isReady = true;
        resolve(child);
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code, signal) => {
      if (!isReady) reject(new Error(`${name} exited before it was ready (${signal ?? code})`));
      else if (!stopping && !child.expectedExit) fail(`${name} exited (${signal ?? code})`);
    });
  });
  return { child, ready: readyP };
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.expectedExit = true;
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

async function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  await Promise.all(children.map(stopChild));
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void stopAll(0));

// a small TypeScript step run with tsx (uses the store and the job catalogue directly)
function tsStep(code) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`step failed (${r.status})`);
  return r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()) : null;
}

const RESET = `
import { MongoClient } from 'mongodb';
const c = new MongoClient(process.env.MONGO_URL); await c.connect();
const db = c.db();
for (const x of await db.listCollections({}, { nameOnly: true }).toArray()) await db.dropCollection(x.name);
await c.close();
console.log('{}');
`;
const SYNC = (connectorId) => `
import { randomUUID } from 'node:crypto';
import { connectStore } from '@qpc/store/db';
import { isTerminal } from '@qpc/store/pipeline';
import { createEnqueuer } from '@qpc/jobs';
import { connectionOptions } from '@qpc/worker-kit';
const { client, store } = await connectStore(process.env.MONGO_URL, { ensureIndexes: false });
const q = createEnqueuer({ connection: connectionOptions(process.env.REDIS_URL, 'producer'), prefix: process.env.QPC_QUEUE_PREFIX });
const { jobId: syncId } = await q.requestSync({ connectorId: '${connectorId}', reingest: false, requestId: randomUUID() }, { joinQueued: false });
let runs = [];
const deadline = Date.now() + Number(process.env.QPC_DEMO_SYNC_TIMEOUT_S || 180) * 1000;
for (;;) {
  if (Date.now() > deadline) {
    process.stderr.write('demo: the sync did not finish in time; its runs as they stand are shown below (see Bull Board for the jobs)\\n');
    break;
  }
  runs = await store.col.runs.find({ syncId }).sort({ index: 1 }).toArray();
  const lock = await store.col.syncLocks.findOne({ syncId });
  if (runs.length && runs.every((r) => isTerminal(r.state)) && !lock) break;
  const r = runs.find((x) => !isTerminal(x.state));
  if (r) process.stderr.write(\`demo:   run \${r.reportId}: \${r.state} (\${r.progress.batchesWritten} batches written)\\n\`);
  await new Promise((res) => setTimeout(res, 3000));
}
await q.close(); await client.close();
console.log(JSON.stringify(runs.map((r) => ({ reportId: r.reportId, state: r.state, counts: r.counts, urba: r.urba, error: r.error, timings: r.timings }))));
`;
const SUMMARY = `
import { connectStore } from '@qpc/store/db';
const { client, store } = await connectStore(process.env.MONGO_URL, { ensureIndexes: false });
const hosts = await store.col.hosts.countDocuments({});
const findings = await store.col.findings.find({}, { projection: { status: 1, severity: 1, testStatus: 1, closedReason: 1, reopenCount: 1 } }).toArray();
const by = (f, list = findings) => list.reduce((m, x) => ((m[f(x)] = (m[f(x)] ?? 0) + 1), m), {});
await client.close();
console.log(JSON.stringify({ hosts, findings: findings.length, status: by((x) => x.status), severity: by((x) => x.severity ?? 'unset'),
  testStatus: by((x) => x.testStatus), closedReason: by((x) => x.closedReason, findings.filter((x) => x.status === 'Closed')), reopened: findings.filter((x) => x.reopenCount > 0).length }));
`;

try {
  tsStep(RESET);
  let sim = start('qualys-sim', ['--import', 'tsx', 'apps/qualys-sim/src/main.ts', '--port', String(simPort), '--scenario', scenario1], { ready: /listening at/ });
  await sim.ready;
  env.SIM_URL = `http://127.0.0.1:${simPort}`;
  const apps = ['worker-fetch', 'worker-parse', 'worker-upsert', 'scheduler'];
  await buildApps([...apps, 'api']);
  await buildWeb();
  const started = apps.map((a) => start(a, appArgs(a), { ready: / started"|started/, quiet: true }));
  const api = start('api', appArgs('api'), { ready: /listening/, quiet: true });
  started.push(api);
  await Promise.all(started.map((s) => s.ready));
  say(`apps started: ${apps.join(', ')}, api`);

  // the connector is created through the REST API, as a person would
  let connectorId;
  const base = `http://127.0.0.1:${apiPort}`;
  const headers = { authorization: `Bearer ${env.QPC_API_TOKEN}`, 'content-type': 'application/json' };
  const body = { name: 'Demo connector', url: env.SIM_URL, username: 'demo', password: 'demo', network: 'demo-network', reportTitlePrefix: 'QPC-DEMO', autoUrba: true };
  const res = await fetch(`${base}/api/connectors`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status === 201) connectorId = json.id;
  else if (res.status === 409) {
    const list = await (await fetch(`${base}/api/connectors?limit=100`, { headers })).json();
    connectorId = list.items.find((c) => c.name === body.name)?.id;
  }
  if (!connectorId) throw new Error(`creating the demo connector through the API failed: ${res.status} ${JSON.stringify(json.error ?? json)}`);
  say(`API:       ${base}/api  (Authorization: Bearer <QPC_API_TOKEN>; the demo's token is in .qpc/demo/api-token)`);
  say(`dashboard: ${base}/admin/queues  (any user name, the token as password)`);
  say(`console:   ${base}/  (sign in with the API token in .qpc/demo/api-token)`);
  say(`demo connector created (${connectorId}): prefix QPC-DEMO, network demo-network, auto URBA on`);

  const show = (label, runs) => {
    for (const r of runs) {
      const c = r.counts;
      say(
        `${label}: report ${r.reportId ?? '-'} -> ${r.state}; hosts +${c.hostsCreated}/~${c.hostsUpdated}; findings +${c.findingsCreated}/~${c.findingsUpdated}, ` +
          `closed(passed) ${c.findingsClosed}, reopened ${c.findingsReopened}, URBA closed ${c.urbaClosed}${r.urba ? ` (${r.urba.decision})` : ''}` +
          `${r.error ? `; error ${r.error.class}: ${r.error.message}` : ''}`,
      );
    }
  };
  say('sync 1 (report 7001)...');
  show('sync 1', tsStep(SYNC(connectorId)));

  say('the simulator now also serves 7002, a changed copy of 7001 (results flipped, two controls removed on 10 hosts)');
  await stopChild(sim.child);
  sim = start('qualys-sim', ['--import', 'tsx', 'apps/qualys-sim/src/main.ts', '--port', String(simPort), '--scenario', scenario2], { ready: /listening at/ });
  await sim.ready;
  say('sync 2 (report 7002)...');
  show('sync 2', tsStep(SYNC(connectorId)));

  const s = tsStep(SUMMARY);
  say(`inventory: ${s.hosts} hosts, ${s.findings} findings`);
  say(`  by status:      ${JSON.stringify(s.status)}`);
  say(`  by severity:    ${JSON.stringify(s.severity)}`);
  say(`  by test status: ${JSON.stringify(s.testStatus)}`);
  say(`  closed, by reason: ${JSON.stringify(s.closedReason)}; reopened findings: ${s.reopened}`);
  say(`API:       http://127.0.0.1:${apiPort}/api   dashboard: http://127.0.0.1:${apiPort}/admin/queues`);
  say(`console:   http://127.0.0.1:${apiPort}/  sign in with the token: cat .qpc/demo/api-token`);
  if (once) await stopAll(0);
  else say('running; Ctrl-C stops everything');
} catch (err) {
  fail(err.message);
}
