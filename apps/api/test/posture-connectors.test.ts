/**
 * The connector's source setting through the API: create, view, PATCH and validation of a posture
 * connector; the OpenAPI document carries the fields; Test Credentials against the simulator over HTTP
 * lists the visible policies with their last evaluation, and names the connector's policy ids the user
 * cannot see.
 */
import t from 'tap';
import { startSimulator, DEMO_SCENARIO, resolveScenario } from '@qpc/qualys-sim';
import { startApi } from './helpers.ts';
import { createClientProbe } from '../src/qualys-probe-client.ts';

const sim = await startSimulator({ port: 0, scenario: resolveScenario(DEMO_SCENARIO) });
t.teardown(() => sim.close());
const api = await startApi(t, { allowHttp: true, qualys: createClientProbe({ timeoutMs: 15_000 }) });
const base = { url: sim.url, username: 'demo', password: 'demo', network: 'posture-net' };

/** the policy ids of the demo scenario's Finished policy reports, and the generation date of the newest report of each */
function visiblePolicies(): Map<string, string> {
  const out = new Map<string, { at: string; launched: number }>();
  for (const r of sim.scenario.reports) {
    if (r.type !== 'Policy' || r.state !== 'Finished') continue;
    for (let p = 0; p < r.size.policies; p++) {
      const id = String(r.firstPolicyId + p);
      const prev = out.get(id);
      if (!prev || Date.parse(r.launchedAt) >= prev.launched) out.set(id, { at: r.generatedAt, launched: Date.parse(r.launchedAt) });
    }
  }
  return new Map([...out].map(([id, v]) => [id, new Date(v.at).toISOString()]));
}

t.test('create, view and edit a posture connector', async (t) => {
  const created = await api.call('POST', '/api/connectors', { body: { ...base, name: 'posture-1', source: 'posture', posture: { policyIds: ['2001', 2002, '2001'] } } });
  t.equal(created.status, 201, created.text);
  t.equal(created.json.source, 'posture');
  t.same(created.json.posture, { policyIds: ['2001', '2002'], apiVersion: '2.0', fullEvery: 24 }, 'defaults filled, ids as strings, deduplicated');
  t.equal(created.json.reportTitlePrefix, '', 'no report prefix needed');
  const id = created.json.id as string;

  const patched = await api.call('PATCH', `/api/connectors/${id}`, { body: { posture: { apiVersion: '3.0', fullEvery: 6 } } });
  t.equal(patched.status, 200, patched.text);
  t.same(patched.json.posture, { policyIds: ['2001', '2002'], apiVersion: '3.0', fullEvery: 6 }, 'fields given replace, the others kept');
  const all = await api.call('PATCH', `/api/connectors/${id}`, { body: { posture: { policyIds: null } } });
  t.equal(all.json.posture.policyIds, null, 'null: every policy the user can see');

  const back = await api.call('PATCH', `/api/connectors/${id}`, { body: { source: 'policy-report' } });
  t.equal(back.status, 400, 'back to reports without a prefix: refused');
  t.match(back.json.error.message, /reportTitlePrefix/);
  const back2 = await api.call('PATCH', `/api/connectors/${id}`, { body: { source: 'policy-report', reportTitlePrefix: 'QPC-DEMO' } });
  t.equal(back2.status, 200, back2.text);
  t.equal(back2.json.source, 'policy-report');

  const legacy = await api.call('POST', '/api/connectors', { body: { ...base, name: 'report-1', reportTitlePrefix: 'QPC-DEMO' } });
  t.equal(legacy.json.source, 'policy-report', 'the default source');
  t.equal(legacy.json.posture, null);
});

t.test('validation names the field', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ source: 'posture', posture: { policyIds: ['12a'] } }, /posture\.policyIds: "12a" is not a policy id/],
    [{ source: 'posture', posture: { policyIds: [] } }, /posture\.policyIds: must name at least one/],
    [{ source: 'posture', posture: { apiVersion: '4.0' } }, /posture\.apiVersion/],
    [{ source: 'posture', posture: { fullEvery: 0 } }, /posture\.fullEvery: must be a whole number from 1/],
    [{ source: 'posture', posture: { extra: 1 } }, /posture\.extra: not a field/],
    [{ source: 'scan' }, /source/],
    [{}, /reportTitlePrefix: is required when the source is policy-report/],
  ];
  for (const [extra, msg] of cases) {
    const r = await api.call('POST', '/api/connectors', { body: { ...base, name: `bad-${Math.random()}`, ...(extra as object) } });
    t.equal(r.status, 400, JSON.stringify(extra));
    t.match(r.json.error.message, msg, r.json.error.message);
  }
});

t.test('the OpenAPI document carries source and posture', async (t) => {
  const doc = (await api.call('GET', '/api/openapi.json')).json;
  const create = doc.paths['/api/connectors'].post.requestBody.content['application/json'].schema;
  t.same(create.properties.source.enum, ['policy-report', 'posture']);
  t.same(create.properties.posture.properties.apiVersion.enum, ['2.0', '3.0']);
  t.ok(create.properties.posture.properties.policyIds, 'policyIds documented');
  t.ok(create.properties.posture.properties.fullEvery, 'fullEvery documented');
});

t.test('Test Credentials of a posture connector: the visible policies and when each was last evaluated', async (t) => {
  const expected = visiblePolicies();
  t.ok(expected.size > 0, `${expected.size} policies in the scenario`);
  const created = await api.call('POST', '/api/connectors', { body: { ...base, name: 'posture-test', source: 'posture' } });
  const r = await api.call('POST', `/api/connectors/${created.json.id}/test`, { body: {} });
  t.equal(r.json.ok, true, r.text);
  t.same(r.json.checks, { login: 'ok', policyCompliance: 'ok', reports: 'ok', policies: 'ok' });
  const got = new Map((r.json.policies as { id: string; lastEvaluatedAt: string | null; selected: boolean }[]).map((p) => [p.id, p]));
  for (const [id, at] of expected) {
    t.equal(got.get(id)?.lastEvaluatedAt, at, `policy ${id} last evaluated ${at}`);
    t.equal(got.get(id)?.selected, true, `policy ${id} pulled (no policy ids: all)`);
  }
  const some = [...expected.keys()][0]!;
  const missing = await api.call('POST', `/api/connectors/${created.json.id}/test`, { body: { policyIds: [some, '999999'] } });
  t.equal(missing.json.ok, false);
  t.equal(missing.json.failedAt, 'policies');
  t.equal(missing.json.error.code, 'POSTURE_POLICY_NOT_VISIBLE');
  t.match(missing.json.error.message, /999999/);
  t.equal(missing.json.policies.find((p: { id: string }) => p.id === some).selected, true);
  const before = await api.call('POST', '/api/connectors/test', { body: { url: sim.url, username: 'demo', password: 'demo', source: 'posture' } });
  t.equal(before.json.ok, true, `before saving: ${before.text.slice(0, 200)}`);
  t.notMatch(r.text + missing.text + before.text, /"demo"|password/i, 'no password in the answers');
});
