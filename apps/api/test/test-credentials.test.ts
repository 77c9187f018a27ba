/**
 * Test Credentials against the Qualys simulator over HTTP: saved and supplied credentials, bad
 * password, no Policy Compliance module, unreachable server, TLS failure. The password never comes back.
 */
import t from 'tap';
import net from 'node:net';
import { startSimulator, DEMO_SCENARIO, resolveScenario } from '@qpc/qualys-sim';
import { connectorCredentials } from '@qpc/store/connectors';
import { VIEWER, startApi } from './helpers.ts';
import { createClientProbe } from '../src/qualys-probe-client.ts';

const sim = await startSimulator({ port: 0, scenario: resolveScenario(DEMO_SCENARIO) });
t.teardown(() => sim.close());
const noPc = await startSimulator({ port: 0, scenario: resolveScenario({ ...DEMO_SCENARIO, pcModule: false }) });
t.teardown(() => noPc.close());

const api = await startApi(t, { allowHttp: true, qualys: createClientProbe({ timeoutMs: 15_000 }) });

const create = async (name: string, url: string, password = 'demo') => {
  const r = await api.call('POST', '/api/connectors', {
    body: { name, url, username: 'demo', password, network: 'demo', reportTitlePrefix: 'QPC-DEMO' },
  });
  if (r.status !== 201) throw new Error(r.text);
  return r.json.id as string;
};

t.test('saved credentials: login ok, PC reachable, the matching reports', async (t) => {
  const id = await create('good', sim.url);
  const r = await api.call('POST', `/api/connectors/${id}/test`, { body: {} });
  t.equal(r.status, 200);
  t.equal(r.json.ok, true, r.text);
  t.same(r.json.checks, { login: 'ok', policyCompliance: 'ok', reports: 'ok' });
  const reports = r.json.reports as { id: string; title: string; state: string; size: string | null; launchedAt: string }[];
  const expected = sim.scenario.reports.filter((x) => x.title.startsWith('QPC-DEMO')).map((x) => x.id).sort();
  t.same(reports.map((x) => x.id).sort(), expected, 'every report whose title has the prefix');
  t.ok(reports.every((x) => x.title.startsWith('QPC-DEMO')));
  const running = reports.find((x) => x.id === '1004');
  t.equal(running?.state, 'Running');
  const finished = reports.find((x) => x.id === '1001');
  t.equal(finished?.state, 'Finished');
  t.ok(finished?.size, 'size shown');
  t.ok(finished?.launchedAt, 'launch time shown');
  t.equal((await api.call('POST', `/api/connectors/${id}/test`, { token: VIEWER, body: {} })).status, 403);
});

t.test('supplied credentials override the saved ones for the test only', async (t) => {
  const id = await create('supplied', sim.url, 'wrong-saved');
  const bad = await api.call('POST', `/api/connectors/${id}/test`, { body: {} });
  t.equal(bad.json.ok, false);
  t.equal(bad.json.failedAt, 'login');
  t.equal(bad.json.error.code, 'QUALYS_BAD_CREDENTIALS');
  t.notMatch(bad.text, 'wrong-saved');
  const good = await api.call('POST', `/api/connectors/${id}/test`, { body: { password: 'demo' } });
  t.equal(good.json.ok, true, good.text);
  const stored = await api.deps.store.col.connectors.findOne({ _id: id });
  t.equal(connectorCredentials(stored!, api.deps.secrets).password, 'wrong-saved', 'the saved password is unchanged');
  const before = await api.call('POST', '/api/connectors/test', {
    body: { url: sim.url, username: 'demo', password: 'demo', reportTitlePrefix: 'Quarterly' },
  });
  t.equal(before.json.ok, true);
  t.same(before.json.reports.map((r: { id: string }) => r.id), ['1005']);
});

t.test('clear, specific failures', async (t) => {
  const pc = await create('no-pc', noPc.url);
  const r = await api.call('POST', `/api/connectors/${pc}/test`, { body: {} });
  t.equal(r.json.ok, false);
  t.equal(r.json.failedAt, 'policyCompliance');
  t.equal(r.json.error.code, 'QUALYS_NO_PC_MODULE');
  t.same(r.json.checks, { login: 'ok', policyCompliance: 'failed', reports: 'not-run' });

  // a port nobody listens on
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  const down = await create('down', `http://127.0.0.1:${port}`);
  const u = await api.call('POST', `/api/connectors/${down}/test`, { body: {} });
  t.equal(u.json.ok, false);
  t.equal(u.json.error.code, 'QUALYS_UNREACHABLE');
  t.match(u.json.error.message, /./);

  // https to a plain-http server: the TLS handshake fails
  const tls = await create('tls', sim.url.replace('http:', 'https:'));
  const e = await api.call('POST', `/api/connectors/${tls}/test`, { body: {} });
  t.equal(e.json.ok, false);
  t.equal(e.json.error.code, 'QUALYS_TLS', e.text);
});

t.test('the password is in no answer and no log line', async (t) => {
  t.notMatch(api.logs.join(''), 'wrong-saved');
  t.notMatch(api.logs.join(''), '"demo"');
});
