/**
 * Data freshness on the real stack: the API in process, the workers as processes (their bundles), the
 * Qualys simulator over HTTP. A report generated at a known date syncs: the run records that date as
 * `dataAsOf`, the connector shows it with its age, fresh under the default threshold, and /metrics
 * says the same; a threshold below the age makes it stale, removing the threshold makes it fresh again.
 * A report of 0 hosts, freshly generated, makes its connector stale all the same.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appArgs, buildApps } from '../../../scripts/apps.mjs';
import { startSimulator, resolveScenario } from '@qpc/qualys-sim';
import { waitFor } from '@qpc/testing';
import { VIEWER, startApi } from './helpers.ts';
import { createClientProbe } from '../src/qualys-probe-client.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DAY_S = 24 * 3600;
// whole seconds, as a report header carries them
const at = (secondsAgo: number) => new Date(Math.floor(Date.now() / 1000 - secondsAgo) * 1000).toISOString().replace('.000Z', 'Z');
const GENERATED = at(3 * DAY_S + 600); // 3 days and 10 minutes ago
const GENERATED_EMPTY = at(3600);

const sim = await startSimulator({
  port: 0,
  scenario: resolveScenario({
    user: { login: 'fresh', password: 'fresh-pass' },
    reports: [
      { id: '8101', title: 'QPC-FR Servers', launched: '-3d', generatedAt: GENERATED, seed: 8101, size: { hosts: 5, controls: 3, instancesPerControl: 1, policies: 1 } },
      { id: '8102', title: 'QPC-FZ Nothing', launched: '-1h', generatedAt: GENERATED_EMPTY, seed: 8102, size: { hosts: 0, controls: 3, instancesPerControl: 1, policies: 1 } },
    ],
  }),
});
t.teardown(() => sim.close());

const key = randomBytes(32);
const api = await startApi(t, { allowHttp: true, secretKey: key, qualys: createClientProbe({ timeoutMs: 15_000 }) });
const children: ChildProcess[] = [];
const output: string[] = [];
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

const connector = async (name: string, prefix: string) => {
  const r = await api.call('POST', '/api/connectors', {
    body: { name, url: sim.url, username: 'fresh', password: 'fresh-pass', network: `${name}-net`, reportTitlePrefix: prefix },
  });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.text}`);
  return r.json.id as string;
};
const FR = await connector('fr', 'QPC-FR');
const FZ = await connector('fz', 'QPC-FZ');

const TERMINAL = ['succeeded', 'no-new-report', 'partial', 'failed'];
async function sync(id: string) {
  const s = await api.call('POST', `/api/connectors/${id}/sync`);
  if (s.status !== 202) throw new Error(`sync: ${s.status} ${s.text}`);
  return waitFor(
    async () => {
      const mine = ((await api.call('GET', `/api/connectors/${id}/runs?limit=100`, { token: VIEWER })).json.items as { syncId: string; state: string }[]).filter(
        (r) => r.syncId === s.json.jobId,
      );
      return mine.length > 0 && mine.every((r) => TERMINAL.includes(r.state)) ? mine : undefined;
    },
    120_000,
    300,
  );
}

/** One sample of /metrics: the value of `name{labels}` (labels matched as given), undefined when absent. */
async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const r = await api.call('GET', '/metrics', { token: VIEWER });
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  for (const line of r.text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const view = async (id: string) => (await api.call('GET', `/api/connectors/${id}`, { token: VIEWER })).json;

t.test('before any sync: no data, stale, no age', async (t) => {
  const c = await view(FR);
  t.same([c.dataAsOf, c.dataAge, c.stale, c.staleReason?.code, c.staleAfterDays], [null, null, true, 'NO_DATA', null]);
  t.equal(await metric('qpc_connector_stale', { connector: FR, name: 'fr' }), 1, 'qpc_connector_stale 1');
  t.equal(await metric('qpc_connector_data_age_seconds', { connector: FR }), undefined, 'no age series until data is read');
});

t.test('a sync of a report generated 3 days ago: dataAsOf is its generation date, fresh under 8 days', async (t) => {
  const runs = await sync(FR);
  t.same(runs.map((r) => r.state), ['succeeded'], JSON.stringify(runs));
  const run = (await api.call('GET', `/api/connectors/${FR}/runs?limit=1`, { token: VIEWER })).json.items[0];
  t.equal(run.dataAsOf, new Date(GENERATED).toISOString(), `the run keeps the report header's generation date (${GENERATED})`);
  const c = await view(FR);
  t.equal(c.dataAsOf, new Date(GENERATED).toISOString(), 'the connector\'s newest assessment');
  const expectAge = Math.floor((Date.now() - Date.parse(GENERATED)) / 1000);
  t.ok(Math.abs(c.dataAge - expectAge) < 120, `dataAge ${c.dataAge} s, about ${expectAge} s`);
  t.same([c.stale, c.staleReason], [false, null], 'fresh: 3 days is within the default 8');

  const age = await metric('qpc_connector_data_age_seconds', { connector: FR, name: 'fr' });
  t.ok(age !== undefined && Math.abs(age - expectAge) < 120, `qpc_connector_data_age_seconds ${age}`);
  t.equal(await metric('qpc_connector_stale', { connector: FR }), 0, 'qpc_connector_stale 0');
  t.equal(await metric('qpc_run_total', { connector: FR, state: 'succeeded' }), 1, 'qpc_run_total{state="succeeded"} 1');
  t.equal(await metric('qpc_run_total', { connector: FR, state: 'failed' }), undefined, 'no failed run counted');
});

t.test('the threshold setting changes staleness; bad values are refused with the field named', async (t) => {
  const two = await api.call('PATCH', `/api/connectors/${FR}`, { body: { staleAfterDays: 2 } });
  t.equal(two.status, 200, two.text);
  t.equal(two.json.staleAfterDays, 2);
  t.same([two.json.stale, two.json.staleReason?.code], [true, 'DATA_AGE'], 'the PATCH answer says so');
  t.match(two.json.staleReason?.message, /^the newest assessment is 3(\.\d)? d old, over the 2 d threshold$/);
  t.equal(await metric('qpc_connector_stale', { connector: FR }), 1, 'qpc_connector_stale 1');
  t.equal((await view(FR)).stale, true);

  const cleared = await api.call('PATCH', `/api/connectors/${FR}`, { body: { staleAfterDays: null } });
  t.same([cleared.json.staleAfterDays, cleared.json.stale], [null, false], 'null: back to the default 8 days');
  t.equal(await metric('qpc_connector_stale', { connector: FR }), 0);

  for (const bad of [0, -1, 367, '8']) {
    const r = await api.call('PATCH', `/api/connectors/${FR}`, { body: { staleAfterDays: bad } });
    t.equal(r.status, 400, `${JSON.stringify(bad)} refused`);
    t.match(r.json.error.message, /^staleAfterDays: must be a number of days greater than 0 and at most 366$/, r.json.error.message);
  }
  const made = await api.call('POST', '/api/connectors', {
    body: { name: 'fr-bad', url: sim.url, username: 'fresh', password: 'x', network: 'n', reportTitlePrefix: 'X', staleAfterDays: 400 },
  });
  t.equal(made.status, 400, 'refused at create too');
  t.equal((await view(FR)).staleAfterDays, null, 'nothing half-applied');
  const doc = api.openapi as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>> };
  const body = (p: string, m: string) => doc.paths[p]![m]!.requestBody!.content['application/json']!.schema.properties.staleAfterDays;
  t.match(body('/api/connectors', 'post'), { type: 'number', exclusiveMinimum: 0, maximum: 366 }, 'in the OpenAPI document: create');
  t.match(body('/api/connectors/{id}', 'patch'), { anyOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 366 }, { type: 'null' }] }, 'and edit (null: the default)');
});

t.test('a fresh report of 0 hosts makes its connector stale', async (t) => {
  const runs = await sync(FZ);
  t.same(runs.map((r) => r.state), ['succeeded'], JSON.stringify(runs));
  const c = await view(FZ);
  t.equal(c.dataAsOf, new Date(GENERATED_EMPTY).toISOString());
  t.ok(c.dataAge < 2 * 3600, `an hour old (${c.dataAge} s)`);
  t.same([c.stale, c.staleReason], [true, { code: 'ZERO_HOSTS', message: 'the last complete run read 0 hosts' }]);
  t.equal(await metric('qpc_connector_stale', { connector: FZ, name: 'fz' }), 1, 'qpc_connector_stale 1');
  t.equal(await metric('qpc_connector_stale', { connector: FR }), 0, 'the other connector is unaffected');
  const overview = (await api.call('GET', '/api/overview', { token: VIEWER })).json;
  t.same(overview.staleConnectors.map((s: { name: string }) => s.name), ['fz'], 'the overview lists it');
});
