/**
 * End to end with the pipeline as separate processes (worker-fetch, worker-parse, worker-upsert) and
 * the Qualys simulator: a sync over the API succeeds; a sync with a bad password fails; that failed
 * sync, retried through Bull Board's own API once the password is fixed, completes. Then the canary:
 * the password appears in no API answer, log line, Redis key or value (jobs included), error or metric.
 * The workers run from their bundles, as `npm start` and the Docker image run them (scripts/apps.mjs).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { appArgs, buildApps } from '../../../scripts/apps.mjs';
import { startSimulator, resolveScenario } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import { ADMIN, VIEWER, startApi } from './helpers.ts';
import { createClientProbe } from '../src/qualys-probe-client.ts';

const CANARY = 'Canary-7d1f0e3b-Pa55';
const WRONG = 'Wrong-3c9a71-Pa55';
const USER = 'e2e-user';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const sim = await startSimulator({
  port: 0,
  scenario: resolveScenario({
    user: { login: USER, password: CANARY },
    reports: [{ id: '7001', title: 'QPC-E2E Servers', launched: '-1d', seed: 7001, size: { hosts: 8, controls: 4, instancesPerControl: 1, policies: 1 } }],
  }),
});
t.teardown(() => sim.close());

const key = randomBytes(32);
const api = await startApi(t, { allowHttp: true, secretKey: key, qualys: createClientProbe({ timeoutMs: 15_000 }) });

const output: string[] = [];
const children: ChildProcess[] = [];
const workers = ['worker-fetch', 'worker-parse', 'worker-upsert'];
await buildApps(workers);
for (const app of workers) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('QPC_')) env[k] = v;
  Object.assign(env, {
    REDIS_URL: api.redisUrl,
    MONGO_URL: api.mongoUrl,
    QPC_QUEUE_PREFIX: api.prefix,
    QPC_SECRET_KEY: key.toString('base64'),
    QPC_SECRET_KEY_ID: 'k1',
    QPC_ALLOW_HTTP: '1',
    QPC_LOG_LEVEL: 'debug',
  });
  const child = spawn(process.execPath, appArgs(app), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => output.push(b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => output.push(b.toString('utf8')));
  children.push(child);
}
t.teardown(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 15_000).unref();
        }),
    ),
  );
});

const created = await api.call('POST', '/api/connectors', {
  body: { name: 'e2e', url: sim.url, username: USER, password: CANARY, network: 'e2e-net', reportTitlePrefix: 'QPC-E2E' },
});
const id = created.json.id as string;

const TERMINAL = ['succeeded', 'no-new-report', 'partial', 'failed'];
async function runsOf(): Promise<{ id: string; state: string; syncId: string; error: { message: string } | null }[]> {
  return (await api.call('GET', `/api/connectors/${id}/runs?limit=100`, { token: VIEWER })).json.items;
}
async function waitForSync(jobId: string, timeoutMs = 90_000) {
  return waitFor(async () => {
    const mine = (await runsOf()).filter((r) => r.syncId === jobId);
    return mine.length > 0 && mine.every((r) => TERMINAL.includes(r.state)) ? mine : undefined;
  }, timeoutMs, 300);
}

t.test('a sync over the API succeeds', async (t) => {
  t.equal(created.status, 201);
  const s = await api.call('POST', `/api/connectors/${id}/sync`);
  t.equal(s.status, 202);
  const runs = await waitForSync(s.json.jobId);
  t.same(runs.map((r) => r.state), ['succeeded'], JSON.stringify(runs));
  const hosts = await api.call('GET', '/api/hosts?network=e2e-net&limit=500', { token: VIEWER });
  t.equal(hosts.json.items.length, 8);
  const findings = await api.call('GET', '/api/findings?network=e2e-net&limit=500', { token: VIEWER });
  t.equal(findings.json.items.length, 32);
  const facets = await api.call('GET', '/api/findings/facets?network=e2e-net', { token: VIEWER });
  t.same(facets.json.facets.network, [{ value: 'e2e-net', count: 32 }]);
});

t.test('a bad password fails the sync; retried through Bull Board once fixed, it completes', async (t) => {
  t.equal((await api.call('PATCH', `/api/connectors/${id}`, { body: { password: WRONG } })).status, 200);
  const s = await api.call('POST', `/api/connectors/${id}/sync`, { body: { reingest: true } });
  t.equal(s.status, 202);
  t.equal(s.json.joined, false);
  const jobId = s.json.jobId as string;
  const failed = await waitForSync(jobId);
  t.same(failed.map((r) => r.state), ['failed']);
  t.match(failed[0]!.error?.message ?? '', /./, 'the run says why');
  const board = await api.call('GET', `/admin/queues/api/queues/sync/${encodeURIComponent(jobId)}`, { token: VIEWER });
  t.equal(board.status, 200);
  t.equal(board.json.job.id, jobId);
  t.ok(board.json.job.failedReason, 'Bull Board shows the failure');
  t.same(Object.keys(board.json.job.data).sort(), ['connectorId', 'reingest', 'requestId', 'trigger'], 'job data: ids and flags only');

  t.equal((await api.call('PATCH', `/api/connectors/${id}`, { body: { password: CANARY } })).status, 200);
  t.equal((await api.call('PUT', `/admin/queues/api/queues/sync/${encodeURIComponent(jobId)}/retry`, { token: VIEWER })).status, 403, 'viewers cannot retry');
  const retry = await api.call('PUT', `/admin/queues/api/queues/sync/${encodeURIComponent(jobId)}/retry`, { token: ADMIN });
  t.ok(retry.status === 200 || retry.status === 204, `retry accepted (${retry.status} ${retry.text})`);
  const done = await waitFor(async () => {
    const mine = (await runsOf()).filter((r) => r.syncId === jobId && r.state !== 'failed');
    return mine.length > 0 && mine.every((r) => TERMINAL.includes(r.state)) ? mine : undefined;
  }, 90_000, 300);
  t.same(done.map((r) => r.state), ['succeeded'], 'the retried sync re-ingested the report');
  const job = await api.deps.queues.sync.getJob(jobId);
  t.equal(await job!.getState(), 'completed');
});

t.test('the canary password is nowhere', async (t) => {
  // more answers to scan: metrics, Bull Board lists, runs, connectors, test credentials
  const extra = [
    await api.call('GET', '/metrics', { token: VIEWER }),
    await api.call('GET', '/admin/queues/api/queues?activeQueue=sync&status=completed&page=1', { token: ADMIN }),
    await api.call('GET', '/admin/queues/api/queues?activeQueue=sync&status=failed&page=1', { token: ADMIN }),
    await api.call('GET', '/admin/queues/api/queues?activeQueue=fetch&status=completed&page=1', { token: ADMIN }),
    await api.call('GET', '/api/runs?limit=500', { token: VIEWER }),
    await api.call('GET', `/api/connectors/${id}`, { token: VIEWER }),
    await api.call('POST', `/api/connectors/${id}/test`, { body: {} }),
    await api.call('POST', `/api/connectors/${id}/test`, { body: { password: WRONG } }),
  ];
  t.equal(extra[0]!.status, 200);
  t.match(extra[0]!.text, /qpc_runs\{state="succeeded"\} 2/);
  t.match(extra[0]!.text, /qpc_runs\{state="failed"\} 1/);
  t.equal(extra[6]!.json.ok, true);
  t.equal(extra[7]!.json.error.code, 'QUALYS_BAD_CREDENTIALS');

  const basic = (p: string) => Buffer.from(`${USER}:${p}`).toString('base64');
  const needles = [CANARY, WRONG, basic(CANARY), basic(WRONG), encodeURIComponent(CANARY)];
  const haystacks: [string, string][] = [
    ['API answers', api.answers.join('\n')],
    ['API log lines', api.logs.join('')],
    ['worker log lines', output.join('')],
  ];
  // every Redis key and value under the test's prefix (queues, jobs, events, the Qualys budget)
  const redis = new Redis(api.redisUrl);
  t.teardown(() => redis.quit());
  let cursor = '0';
  const dump: string[] = [];
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${api.prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) {
      dump.push(k);
      const type = await redis.type(k);
      if (type === 'string') dump.push((await redis.get(k)) ?? '');
      else if (type === 'hash') dump.push(JSON.stringify(await redis.hgetall(k)));
      else if (type === 'list') dump.push(JSON.stringify(await redis.lrange(k, 0, -1)));
      else if (type === 'set') dump.push(JSON.stringify(await redis.smembers(k)));
      else if (type === 'zset') dump.push(JSON.stringify(await redis.zrange(k, 0, -1)));
      else if (type === 'stream') dump.push(JSON.stringify(await redis.xrange(k, '-', '+')));
    }
  } while (cursor !== '0');
  t.ok(dump.length > 10, `${dump.length / 2} Redis keys scanned`);
  haystacks.push(['Redis keys and values', dump.join('\n')]);
  // run records (errors) in MongoDB
  const runDocs = await api.deps.store.col.runs.find({}).toArray();
  haystacks.push(['run records', JSON.stringify(runDocs)]);
  t.ok(output.join('').length > 1000, 'the workers did log');
  for (const [where, text] of haystacks) {
    for (const n of needles) t.notOk(text.includes(n), `${where}: no trace of the password`);
  }
});
