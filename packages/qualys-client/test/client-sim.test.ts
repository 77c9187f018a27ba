/** The client against the simulator over real HTTP: lists, launch, about, checkAccess, errors, limits. */
import net from 'node:net';
import t from 'tap';
import { resolveScenario, startSimulator, type Simulator } from '@qpc/qualys-sim';
import { createQualysClient, QualysError, type QualysClient, type QualysClientOptions } from '../src/index.ts';
import { FAST, type Teardown } from './helpers.ts';

async function sim(t: Teardown, scenario?: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const s = await startSimulator(scenario ?? {});
  t.teardown(() => s.close());
  return s;
}

function client(t: Teardown, s: Simulator | string, extra: Partial<QualysClientOptions> = {}): QualysClient {
  const c = createQualysClient({
    url: typeof s === 'string' ? s : s.url,
    username: 'demo',
    password: 'demo',
    allowHttp: true,
    ...extra,
    limits: { ...FAST, ...extra.limits },
  });
  t.teardown(() => c.close());
  return c;
}

async function failure(p: Promise<unknown>): Promise<QualysError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof QualysError)) throw new Error(`expected a QualysError, got ${String(e)}`);
  return e;
}

t.test('listReports parses the report list', async (t) => {
  const s = await sim(t);
  const c = client(t, s);
  const all = await c.listReports();
  t.equal(all.length, s.scenario.reports.length);
  const r = all.find((x) => x.id === '1001');
  t.ok(r);
  t.equal(r?.title, 'QPC-DEMO Windows Servers');
  t.equal(r?.type, 'Policy');
  t.equal(r?.state, 'Finished');
  t.equal(r?.outputFormat, 'XML');
  t.ok(r?.launchedAt instanceof Date && r.expiresAt instanceof Date && r.expiresAt > r.launchedAt);
  t.match(r?.sizeText, /^[\d.]+ (bytes|KB|MB|GB)$/);
  t.ok(r?.sizeBytes && r.sizeBytes > 15e6 && r.sizeBytes < 30e6, `size in bytes from "${r?.sizeText}"`);
  const running = all.find((x) => x.id === '1004');
  t.equal(running?.state, 'Running');
  t.equal(running?.sizeText, '-');
  t.equal(running?.sizeBytes, undefined);
  const finished = await c.listReports({ state: 'Finished' });
  t.notOk(finished.some((x) => x.state !== 'Finished'));
  t.same((await c.listReports({ id: '1003' })).map((x) => x.id), ['1003']);
  t.same((await c.listReports({ expiresBefore: new Date() })).map((x) => x.id), ['1006'], 'only the expired one');
  t.equal(s.stats().byPath['/api/2.0/fo/report/'], 4);
});

t.test('about and launchPolicyReport', async (t) => {
  const s = await sim(t);
  const c = client(t, s);
  const about = await c.about();
  t.ok(about.version, `version ${about.version}`);
  const { id } = await c.launchPolicyReport({ title: 'QPC-DEMO launched', templateId: 91, policyId: 1234 });
  t.match(id, /^\d+$/);
  const [row] = await c.listReports({ id });
  t.equal(row?.title, 'QPC-DEMO launched');
  t.equal(row?.state, 'Running');
});

t.test('checkAccess shows what Test Credentials shows', async (t) => {
  const s = await sim(t);
  const c = client(t, s);
  const a = await c.checkAccess('QPC-DEMO');
  t.equal(a.ok, true);
  t.ok(a.policies >= 1);
  t.ok(a.version);
  const expected = s.scenario.reports.filter((r) => r.title.startsWith('QPC-DEMO')).map((r) => r.id).sort();
  t.same(a.reports.map((r) => r.id).sort(), expected);
  t.ok(a.reports.every((r) => r.state && r.launchedAt && r.sizeText));
  const times = a.reports.map((r) => r.launchedAt?.getTime() ?? 0);
  t.same(times, [...times].sort((x, y) => y - x), 'newest first');
});

t.test('checkAccess: each failure is specific', async (t) => {
  const s = await sim(t);

  const bad = client(t, s, { password: 'wrong' });
  const e1 = await failure(bad.checkAccess('QPC-DEMO'));
  t.equal(e1.code, 'QUALYS_BAD_CREDENTIALS');
  t.equal(e1.retryable, false);
  t.equal(e1.status, 401);
  t.equal(bad.stats().calls, 1, '401 is not retried');

  const noPc = await sim(t, { scenario: resolveScenario({ pcModule: false, reports: [] }) });
  const e2 = await failure(client(t, noPc).checkAccess('QPC-DEMO'));
  t.equal(e2.code, 'QUALYS_NO_PC_MODULE');
  t.equal(e2.retryable, false);
  t.ok(e2.qualysCode);

  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const e3 = await failure(client(t, `http://127.0.0.1:${port}`, { limits: { maxAttempts: 2 } }).checkAccess('QPC-DEMO'));
  t.equal(e3.code, 'QUALYS_UNREACHABLE');

  const e4 = await failure(client(t, s.url.replace('http:', 'https:'), { limits: { maxAttempts: 2 } }).checkAccess('QPC-DEMO'));
  t.equal(e4.code, 'QUALYS_TLS');
  t.equal(e4.retryable, false);

  s.setFaults({ htmlPage: true });
  const e5 = await failure(client(t, s).checkAccess('QPC-DEMO'));
  t.equal(e5.code, 'QUALYS_HTML_PAGE');
  t.match(e5.message, /HTML page/);
  s.setFaults(null);
});

t.test('SIMPLE_RETURN under HTTP 200 is an error with the Qualys code and text', async (t) => {
  const s = await sim(t);
  const c = client(t, s);
  s.setFaults({ simpleReturn200: { code: 1999, text: 'Operation not allowed for this user' } });
  const e = await failure(c.listReports());
  t.equal(e.code, 'QUALYS_API_ERROR');
  t.equal(e.status, 200);
  t.equal(e.qualysCode, 1999);
  t.equal(e.qualysText, 'Operation not allowed for this user');
  t.equal(e.retryable, false);
  t.match(e.message, /1999.*Operation not allowed/);
  t.equal(c.stats().calls, 1);
});

t.test('GENERIC_RETURN and 5xx are retried with backoff, a bounded number of times', async (t) => {
  const s = await sim(t);
  const c = client(t, s, { limits: { maxAttempts: 3 } });
  s.setFaults({ genericReturn: true });
  t.ok((await c.listReports()).length > 0);
  t.equal(c.stats().retries, 1);
  s.setFaults({ errors5xx: 2 });
  t.ok((await c.listReports()).length > 0);
  t.equal(c.stats().retries, 3);
  s.setFaults({ errors5xx: 10 });
  const e = await failure(c.listReports());
  t.equal(e.code, 'QUALYS_HTTP_ERROR');
  t.equal(e.status, 503);
  t.equal(e.retryable, true);
  t.equal(c.stats().calls, 2 + 3 + 3);
});

t.test('409: wait X-RateLimit-ToWait-Sec, or back off with jitter when it is absent', async (t) => {
  const s = await sim(t);
  const c = client(t, s);
  s.setFaults({ conflicts409: 1, toWaitSec: 1 });
  const t0 = Date.now();
  await c.about();
  t.ok(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms`);
  t.equal(c.stats().conflicts409, 1);
  t.ok(c.stats().waitedSec >= 1);

  s.setFaults({ conflicts409: 2, toWaitSec: -1 });
  const t1 = Date.now();
  await c.about();
  t.ok(Date.now() - t1 < 900, 'backoff (fast settings) instead of a missing header');
  t.equal(c.stats().conflicts409, 3);

  s.setFaults({ conflicts409: 5, toWaitSec: 0 });
  const limited = client(t, s, { limits: { max409: 2 } });
  const e = await failure(limited.about());
  t.equal(e.code, 'QUALYS_RATE_LIMITED');
  t.equal(e.retryable, true);
  t.equal(e.status, 409);
  s.setFaults(null);
});

t.test('the rate window: a 409 with the wait until the window resets', async (t) => {
  const s = await sim(t);
  s.setLimits({ rateLimit: 3, windowSec: 2 });
  const c = client(t, s);
  for (let i = 0; i < 4; i++) await c.about();
  const st = c.stats();
  t.equal(st.conflicts409, 1);
  t.ok(st.waitedSec >= 1, `waited ${st.waitedSec} s`);
  t.equal(st.lastLimits.rateLimit, 3);
  t.equal(st.lastLimits.rateWindowSec, 2);
  t.ok(st.lastLimits.rateRemaining !== undefined);
  t.equal(s.stats().conflicts409, 1);
});

t.test('the concurrency limit announced by the server is learned and kept', async (t) => {
  const s = await sim(t);
  s.setLimits({ concurrency: 3 });
  const c = client(t, s, { limits: { concurrency: 1 } });
  await c.about(); // learns X-Concurrency-Limit-Limit: 3
  s.setFaults({ latencyMs: 150 });
  await Promise.all(Array.from({ length: 9 }, () => c.about()));
  t.equal(s.stats().maxConcurrent, 3);
  t.equal(s.stats().conflicts409, 0);
  t.equal(c.stats().lastLimits.concurrencyLimit, 3);
});

t.test('fetching a report that is not ready or expired fails before streaming', async (t) => {
  const s = await sim(t);
  const c = client(t, s);
  const running = await failure(c.fetchReport('1004'));
  t.equal(running.code, 'QUALYS_API_ERROR');
  t.ok(running.qualysCode);
  t.equal(running.retryable, false);
  const expired = await failure(c.fetchReport('1006'));
  t.equal(expired.code, 'QUALYS_API_ERROR');
  t.not(expired.qualysCode, running.qualysCode);
  s.setFaults({ simpleReturn200: { code: 1904, text: 'gone' } }, '1005');
  const under200 = await failure(c.fetchReport('1005'));
  t.equal(under200.status, 200);
  t.equal(under200.qualysCode, 1904);
  s.setFaults({ htmlPage: true }, '1005');
  const html = await failure(c.fetchReport('1005'));
  t.equal(html.code, 'QUALYS_HTML_PAGE');
  const badId = await failure(c.fetchReport('12 OR 1'));
  t.equal(badId.code, 'QUALYS_INVALID_OPTIONS');
});
