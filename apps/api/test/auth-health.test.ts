/**
 * Auth matrix for every route of the table and for Bull Board, health and readiness (with Redis taken
 * away through a proxy), metrics, the error shape, and the OpenAPI document against the routes.
 */
import t from 'tap';
import { TcpProxy } from '@qpc/testing';
import { ADMIN, VIEWER, startApi } from './helpers.ts';
import { openApiPath } from '../src/openapi.ts';

const api = await startApi(t);

/** a concrete path for a route pattern */
const concrete = (path: string) => path.replace(/:(\w+)/g, 'no-such-$1');

t.test('health endpoints need no token', async (t) => {
  const h = await api.call('GET', '/healthz', { token: null });
  t.equal(h.status, 200);
  t.same(h.json, { status: 'ok' });
  const r = await api.call('GET', '/readyz', { token: null });
  t.equal(r.status, 200);
  t.same(r.json.checks, { redis: 'ok', mongo: 'ok' });
});

t.test('auth matrix: every route of the table, anonymous / bad token / viewer / admin', async (t) => {
  const guarded = api.routes.filter((r) => r.role !== 'public');
  t.ok(guarded.length >= 18, `${guarded.length} guarded routes`);
  for (const r of guarded) {
    const path = concrete(r.path);
    const method = r.method.toUpperCase();
    const anon = await api.call(method, path, { token: null });
    t.equal(anon.status, 401, `${method} ${r.path} anonymous`);
    t.equal(anon.json?.error?.code, 'UNAUTHORIZED');
    t.match(anon.headers.get('www-authenticate') ?? '', /^Bearer/);
    const bad = await api.call(method, path, { token: `${ADMIN}x` });
    t.equal(bad.status, 401, `${method} ${r.path} wrong token`);
    const viewer = await api.call(method, path, { token: VIEWER, body: {} });
    if (r.role === 'admin') {
      t.equal(viewer.status, 403, `${method} ${r.path} viewer is refused`);
      t.equal(viewer.json?.error?.code, 'FORBIDDEN');
    } else {
      t.notOk([401, 403].includes(viewer.status), `${method} ${r.path} viewer may read (${viewer.status})`);
    }
    const admin = await api.call(method, path, { token: ADMIN, body: {} });
    t.notOk([401, 403].includes(admin.status), `${method} ${r.path} admin (${admin.status})`);
    t.ok(admin.status < 500, `${method} ${r.path} admin: no server error (${admin.status} ${admin.text.slice(0, 200)})`);
  }
  // an unknown route is still behind auth, then a JSON 404
  t.equal((await api.call('GET', '/api/nope', { token: null })).status, 401);
  const nf = await api.call('GET', '/api/nope');
  t.equal(nf.status, 404);
  t.equal(nf.json.error.code, 'NOT_FOUND');
});

t.test('Bull Board: anonymous asked for credentials, viewer read-only, admin may retry and clean', async (t) => {
  const anon = await api.call('GET', '/admin/queues', { token: null });
  t.equal(anon.status, 401);
  t.match(anon.headers.get('www-authenticate') ?? '', /^Basic/);
  t.equal((await api.call('GET', '/admin/queues/api/queues', { token: null })).status, 401);
  t.equal((await api.call('GET', '/admin/queues/api/queues', { token: 'nope-nope-nope-nope' })).status, 401);

  const page = await api.call('GET', '/admin/queues', { token: VIEWER });
  t.equal(page.status, 200);
  t.match(page.text, /<html/i);
  // the browser route: HTTP Basic with the token as password
  const basic = Buffer.from(`ops:${VIEWER}`).toString('base64');
  const viaBasic = await api.call('GET', '/admin/queues/api/queues', { token: null, headers: { authorization: `Basic ${basic}` } });
  t.equal(viaBasic.status, 200);
  // Basic is not accepted on the REST API
  t.equal((await api.call('GET', '/api/connectors', { token: null, headers: { authorization: `Basic ${basic}` } })).status, 401);

  const vq = await api.call('GET', '/admin/queues/api/queues?activeQueue=sync&status=failed&page=1', { token: VIEWER });
  t.equal(vq.status, 200);
  const names = (vq.json.queues as { name: string; readOnlyMode: boolean }[]).map((q) => q.name).sort();
  t.same(names, ['fetch', 'finalize', 'parse', 'sync', 'upsert']);
  t.ok((vq.json.queues as { readOnlyMode: boolean }[]).every((q) => q.readOnlyMode), 'viewer board is read-only');
  for (const [method, path] of [
    ['PUT', '/admin/queues/api/queues/sync/retry/failed'],
    ['PUT', '/admin/queues/api/queues/sync/clean/completed'],
    ['PUT', '/admin/queues/api/queues/sync/pause'],
    ['PUT', '/admin/queues/api/queues/sync/x/retry'],
    ['POST', '/admin/queues/api/queues/sync/add'],
  ] as const) {
    const r = await api.call(method, path, { token: VIEWER });
    t.equal(r.status, 403, `viewer ${method} ${path}`);
  }
  const aq = await api.call('GET', '/admin/queues/api/queues?activeQueue=sync&status=failed&page=1', { token: ADMIN });
  t.equal(aq.status, 200);
  t.ok((aq.json.queues as { readOnlyMode: boolean }[]).every((q) => !q.readOnlyMode), 'admin board is not read-only');
  t.equal((await api.call('PUT', '/admin/queues/api/queues/sync/clean/completed', { token: ADMIN })).status, 200);
  t.equal((await api.call('PUT', '/admin/queues/api/queues/sync/retry/failed', { token: ADMIN })).status, 200);
});

t.test('metrics need a token; they show jobs by queue and state and run counters', async (t) => {
  t.equal((await api.call('GET', '/metrics', { token: null })).status, 401);
  await api.deps.queues.fetch.add('fetch', { connectorId: 'c1', runId: 'r1' }, { jobId: 'fetch-r1' });
  await api.deps.store.col.runs.insertMany([
    { _id: 'm1', state: 'succeeded', counts: { findingsCreated: 7, findingsUpdated: 3 }, qualys: { calls: 4, conflicts409: 1, waitedSec: 2 } },
    { _id: 'm2', state: 'failed', counts: { findingsCreated: 1 }, qualys: { calls: 2, conflicts409: 2, waitedSec: 0 } },
  ] as never);
  const m = await api.call('GET', '/metrics', { token: VIEWER });
  t.equal(m.status, 200);
  t.match(m.headers.get('content-type') ?? '', /text\/plain/);
  t.match(m.text, /qpc_jobs\{queue="fetch",state="waiting"\} 1/);
  t.match(m.text, /qpc_jobs\{queue="sync",state="failed"\} 0/);
  t.match(m.text, /qpc_runs\{state="succeeded"\} 1/);
  t.match(m.text, /qpc_runs\{state="failed"\} 1/);
  t.match(m.text, /qpc_findings_written_total 11/);
  t.match(m.text, /qpc_qualys_calls_total 6/);
  t.match(m.text, /qpc_qualys_conflicts_total 3/);
});

t.test('errors: JSON shape, bad JSON body, validation names the field', async (t) => {
  const bad = await api.call('POST', '/api/connectors', { body: '{"name": ' });
  t.equal(bad.status, 400);
  t.equal(bad.json.error.code, 'INVALID_BODY');
  const v = await api.call('POST', '/api/connectors', { body: { name: '' } });
  t.equal(v.status, 400);
  t.equal(v.json.error.code, 'VALIDATION_FAILED');
  t.match(v.json.error.message, /name: /);
  t.match(v.json.error.message, /url: /);
  const q = await api.call('GET', '/api/findings?limit=0');
  t.equal(q.status, 400);
  t.match(q.json.error.message, /^limit: /);
  const c = await api.call('GET', '/api/hosts?cursor=garbage');
  t.equal(c.status, 400);
  t.equal(c.json.error.code, 'INVALID_CURSOR');
});

t.test('the OpenAPI document describes exactly the registered routes', async (t) => {
  const doc = await api.call('GET', '/api/openapi.json', { token: VIEWER });
  t.equal(doc.status, 200);
  t.equal(doc.json.openapi, '3.1.0');
  const documented = new Set<string>();
  for (const [p, ops] of Object.entries(doc.json.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
  }
  // what Express actually serves (its own router stack, not our table)
  const served = new Set<string>();
  const { app } = (await import('../src/server.ts')).createServer(api.deps);
  for (const layer of (app as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router.stack) {
    if (!layer.route) continue;
    for (const m of Object.keys(layer.route.methods)) served.add(`${m.toUpperCase()} ${openApiPath(layer.route.path)}`);
  }
  t.same([...served].sort(), [...documented].sort(), 'served routes = documented operations');
  for (const required of [
    'GET /api/connectors', 'POST /api/connectors', 'GET /api/connectors/{id}', 'PATCH /api/connectors/{id}',
    'DELETE /api/connectors/{id}', 'POST /api/connectors/{id}/test', 'POST /api/connectors/{id}/sync',
    'GET /api/connectors/{id}/runs', 'GET /api/runs/{id}', 'GET /api/hosts', 'GET /api/hosts/{id}',
    'GET /api/findings', 'GET /api/findings/facets', 'GET /api/findings/{id}', 'GET /healthz', 'GET /readyz', 'GET /metrics',
    // the console's
    'POST /api/session', 'GET /api/session', 'DELETE /api/session', 'POST /api/schedules/preview', 'POST /api/runs/{id}/retry',
    'GET /api/findings/export.csv', 'GET /api/overview', 'GET /api/connectors/{id}/runs/chart', 'GET /api/connectors/{id}/urba/preview',
  ]) t.ok(documented.has(required), required);
  t.equal(doc.json.paths['/api/findings/export.csv'].get.responses['200'].content['text/csv'] !== undefined, true, 'the export is documented as CSV');
  t.same(doc.json.paths['/api/session'].post.security, [], 'sign-in needs no token');
  const findings = (doc.json.paths['/api/findings'].get.parameters as { name: string }[]).map((p) => p.name);
  for (const f of ['testStatus', 'technology', 'expectedResult', 'actualResult', 'scanner', 'network', 'severity', 'status', 'policyId', 'controlId', 'host', 'tag', 'cursor', 'limit']) {
    t.ok(findings.includes(f), `findings filter ${f} documented`);
  }
  const create = doc.json.paths['/api/connectors'].post.requestBody.content['application/json'].schema;
  t.ok(create.properties.password, 'password is documented as input');
});

t.test('readyz reports Redis down (503) and recovers', async (t) => {
  const url = new URL(api.redisUrl);
  const proxy = await new TcpProxy({ host: url.hostname, port: Number(url.port || 6379) }).listen();
  const api2 = await startApi(t, { redisUrl: `redis://127.0.0.1:${proxy.port}` });
  // closed after the API (its teardown was registered first): its clients end before their connection is cut
  t.teardown(() => proxy.close());
  t.equal((await api2.call('GET', '/readyz', { token: null })).status, 200);
  proxy.cut();
  const down = await api2.call('GET', '/readyz', { token: null });
  t.equal(down.status, 503);
  t.equal(down.json.error.code, 'NOT_READY');
  t.match(down.json.error.message, /redis/);
  t.equal(down.json.checks.mongo, 'ok');
  t.equal((await api2.call('GET', '/healthz', { token: null })).status, 200, 'liveness does not depend on Redis');
  proxy.restore();
  const end = Date.now() + 10_000;
  let status = 0;
  while (Date.now() < end && status !== 200) {
    status = (await api2.call('GET', '/readyz', { token: null })).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(status, 200, 'ready again once Redis is back');
});

t.test('readyz reports MongoDB down (503) and recovers', async (t) => {
  const url = new URL(api.mongoUrl);
  const proxy = await new TcpProxy({ host: url.hostname, port: Number(url.port || 27017) }).listen();
  const api2 = await startApi(t, { mongoHostPort: `127.0.0.1:${proxy.port}` });
  // closed after the API (its teardown was registered first): its clients end before their connection is cut
  t.teardown(() => proxy.close());
  t.equal((await api2.call('GET', '/readyz', { token: null })).status, 200);
  proxy.cut();
  const down = await api2.call('GET', '/readyz', { token: null });
  t.equal(down.status, 503);
  t.match(down.json.error.message, /mongodb/);
  t.equal(down.json.checks.redis, 'ok');
  proxy.restore();
  const end = Date.now() + 20_000;
  let status = 0;
  while (Date.now() < end && status !== 200) {
    status = (await api2.call('GET', '/readyz', { token: null })).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 300));
  }
  t.equal(status, 200, 'ready again once MongoDB is back');
});
